// LLM_MAX_OUTPUT_TOKENS through the whole product: from the environment to each provider's request,
// and a reply cut at that limit answered and stored as it came, not taken for a failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startOpenAiServer, type OpenAiServer } from '../support/openai-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const CUT_REPLY = 'Arr, the sea is wide and';

/** The POST's status and the history read back: what was stored, whatever the POST body's shape. */
async function converse(t: TestApp, message: string, systemPrompt = '') {
  const persona = systemPrompt
    ? (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'P', system_prompt: systemPrompt } })).json()
    : undefined;
  const created = await t.app.inject({ method: 'POST', url: '/api/chat', ...(persona ? { payload: { persona_id: persona.id } } : {}) });
  const id = created.json().session_id as string;
  const posted = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  const read = await t.app.inject({ method: 'GET', url: `/api/chat/${id}` });
  const contents = (read.json().history as Array<{ content: string }>).map((m) => m.content);
  return { status: posted.statusCode, stored: contents };
}

describe('with Gemini', () => {
  let gemini: GeminiServer;
  let t: TestApp;
  beforeAll(async () => {
    gemini = await startGeminiServer();
    t = await startTestApp({ LLM_PROVIDER: 'gemini', GEMINI_API_KEY: 'k', GEMINI_BASE_URL: gemini.url, LLM_MAX_OUTPUT_TOKENS: '64' });
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
  });

  it('sends the limit as maxOutputTokens, and answers and stores a MAX_TOKENS reply as it is', async () => {
    gemini.nextTruncated(CUT_REPLY);

    const result = await converse(t, 'Tell me about the sea');

    expect(gemini.requests.at(-1)!.body.generationConfig?.maxOutputTokens).toBe(64);
    expect(result).toEqual({ status: 200, stored: ['Tell me about the sea', CUT_REPLY] });
  });
});

describe('with an OpenAI-compatible server', () => {
  let openai: OpenAiServer;
  let t: TestApp;
  beforeAll(async () => {
    openai = await startOpenAiServer();
    t = await startTestApp({
      LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: openai.url,
      OPENAI_MODEL: 'llama3.2',
      LLM_MAX_OUTPUT_TOKENS: '64',
    });
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  it('sends the limit as max_tokens, and answers and stores a "length" reply as it is', async () => {
    openai.nextTruncated(CUT_REPLY);

    const result = await converse(t, 'Tell me about the sea');

    expect(openai.requests.at(-1)!.body.max_tokens).toBe(64);
    expect(result).toEqual({ status: 200, stored: ['Tell me about the sea', CUT_REPLY] });
  });
});

describe('offline', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LLM_MAX_OUTPUT_TOKENS: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cuts its reply to the limit (5 tokens: 20 characters), and stores it cut', async () => {
    const result = await converse(t, 'How deep is the sea?', 'You are a grumpy old sailor.');

    expect(result).toEqual({
      status: 200,
      stored: ['How deep is the sea?', 'Speaking as a grumpy'],
    });
  });
});
