import { describe, expect, it } from 'vitest';
import { createChatModel } from './create-chat-model.ts';

describe('createChatModel', () => {
  it('picks the implementation named by the config', () => {
    expect(createChatModel({ provider: 'offline', maxOutputTokens: 2048 }).provider).toBe('offline');

    const gemini = createChatModel({
      provider: 'gemini',
      apiKey: 'k',
      model: 'gemini-2.5-flash',
      baseUrl: undefined,
      maxOutputTokens: 2048,
    });
    expect(gemini.provider).toBe('gemini');
    expect(gemini.description).toBe('gemini (gemini-2.5-flash)');

    const openai = createChatModel({
      provider: 'openai',
      apiKey: undefined,
      model: 'llama3.2',
      baseUrl: 'http://127.0.0.1:11434/v1',
      maxOutputTokens: 2048,
    });
    expect(openai.provider).toBe('openai');
    expect(openai.description).toBe('openai-compatible (llama3.2 at http://127.0.0.1:11434/v1)');
  });

  it('never puts the API key in the description (it goes to the start-up log)', () => {
    const model = createChatModel({
      provider: 'gemini',
      apiKey: 'AIza-secret',
      model: 'm',
      baseUrl: 'http://127.0.0.1:1',
      maxOutputTokens: 2048,
    });
    expect(model.description).not.toContain('AIza-secret');
  });
});
