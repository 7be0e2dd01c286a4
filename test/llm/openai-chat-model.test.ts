// The OpenAI-compatible ChatModel through the real openai SDK against a loopback chat completions server.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { replyWithin, type ChatTurn } from '../../src/llm/chat-model.ts';
import { createChatModel } from '../../src/llm/create-chat-model.ts';
import { createOpenAiChatModel } from '../../src/llm/openai-chat-model.ts';
import { startOpenAiServer, type OpenAiServer } from '../support/openai-server.ts';
import { failureOf } from '../support/llm-failure.ts';

const API_KEY = 'sk-test-0123456789-secret';
const MODEL = 'llama3.2';
const MAX_OUTPUT_TOKENS = 2048;

let openai: OpenAiServer;
let keyless: OpenAiServer;
beforeAll(async () => {
  openai = await startOpenAiServer({ apiKey: API_KEY });
  keyless = await startOpenAiServer({ basePath: '/api/v1' });
});
afterAll(async () => {
  await openai.close();
  await keyless.close();
});
beforeEach(() => {
  openai.reset();
  keyless.reset();
});

const model = () =>
  createOpenAiChatModel({ baseUrl: openai.url, apiKey: API_KEY, model: MODEL, maxOutputTokens: MAX_OUTPUT_TOKENS });
const ask = (message: string, history: ChatTurn[] = [], systemPrompt = '') =>
  replyWithin(model(), { systemPrompt, history, message }, 5_000);

describe('openai-compatible chat model', () => {
  it('describes itself with provider, model and server', () => {
    expect(model().provider).toBe('openai');
    expect(model().description).toContain(MODEL);
    expect(model().description).toContain(openai.url);
  });

  it('sends system, user/assistant history and the new message, in order, with the key', async () => {
    openai.nextReply('Arr, the sea is wide.');
    const history: ChatTurn[] = [
      { role: 'user', content: 'Hello' },
      { role: 'model', content: 'Ahoy!' },
    ];

    const reply = await ask('Tell me about the sea', history, 'You are a pirate.');

    expect(reply).toBe('Arr, the sea is wide.');
    expect(openai.requests).toHaveLength(1);
    const request = openai.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.body.model).toBe(MODEL);
    expect(request.body.messages).toEqual([
      { role: 'system', content: 'You are a pirate.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Ahoy!' },
      { role: 'user', content: 'Tell me about the sea' },
    ]);
  });

  it('sends LLM_MAX_OUTPUT_TOKENS as max_tokens (what Ollama, llama.cpp and vLLM read): 2048 by default, or the value set', async () => {
    const env = { LLM_PROVIDER: 'openai', OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: API_KEY, OPENAI_MODEL: MODEL };
    const byDefault = createChatModel(parseConfig(env).llm);
    const custom = createChatModel(parseConfig({ ...env, LLM_MAX_OUTPUT_TOKENS: '5' }).llm);

    await replyWithin(byDefault, { systemPrompt: '', history: [], message: 'one' }, 5_000);
    await replyWithin(custom, { systemPrompt: '', history: [], message: 'two' }, 5_000);

    expect(openai.requests.map((r) => r.body.max_tokens)).toEqual([2048, 5]);
    expect(openai.requests[0]!.body).not.toHaveProperty('max_completion_tokens');
  });

  it('returns a reply cut at the limit (finish_reason "length") as it is', async () => {
    openai.nextTruncated('Arr, the sea is wide and');

    expect(await ask('Tell me about the sea')).toBe('Arr, the sea is wide and');
  });

  it('works without an API key (Ollama) and without a system message for an empty prompt', async () => {
    const ollama = createOpenAiChatModel({ baseUrl: keyless.url, model: MODEL, maxOutputTokens: MAX_OUTPUT_TOKENS });

    const reply = await replyWithin(ollama, { systemPrompt: '', history: [], message: 'Just checking' }, 5_000);

    expect(reply).toBe('You said: Just checking'); // the server's default echo
    expect(keyless.requests[0]!.path).toBe('/api/v1/chat/completions');
    expect(keyless.requests[0]!.body.messages).toEqual([{ role: 'user', content: 'Just checking' }]);
  });

  it('maps a 429 with Retry-After to rate_limited with retryAfterSeconds, without retrying', async () => {
    openai.nextError(429, { retryAfter: 9, message: 'Rate limit reached' });

    const error = await failureOf(ask('hi'));

    expect(error.failure).toBe('rate_limited');
    expect(error.retryAfterSeconds).toBe(9);
    expect(error.message).toBe('openai is rate limited: Rate limit reached');
    expect(openai.requests).toHaveLength(1);
  });

  it('maps a 500 to failed, naming the provider and the status, without the API key', async () => {
    openai.nextError(500, { message: `upstream rejected ${API_KEY}` });

    const error = await failureOf(ask('hi'));

    expect(error.failure).toBe('failed');
    expect(error.message).toMatch(/^openai failed: HTTP 500 upstream rejected/);
    expect(error.message).not.toContain(API_KEY);
    expect(openai.requests).toHaveLength(1);
  });

  it('maps a rejected key (401) to failed without echoing the key', async () => {
    const wrongKey = 'sk-wrong-key-secret';
    const badModel = createOpenAiChatModel({ baseUrl: openai.url, apiKey: wrongKey, model: MODEL, maxOutputTokens: MAX_OUTPUT_TOKENS });

    const error = await failureOf(replyWithin(badModel, { systemPrompt: '', history: [], message: 'hi' }, 5_000));

    expect(error.failure).toBe('failed');
    expect(error.message).toContain('HTTP 401');
    expect(error.message).not.toContain(wrongKey);
  });

  it('turns a reply slower than the deadline into timeout and aborts the HTTP request', async () => {
    openai.nextDelay(3_000);
    const started = Date.now();

    const error = await failureOf(replyWithin(model(), { systemPrompt: '', history: [], message: 'slow' }, 300));

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.failure).toBe('timeout');
    expect(error.message).toBe('openai did not answer within 300 ms');
    await vi.waitFor(() => expect(openai.requests[0]?.clientAborted).toBe(true));
  });

  it('maps its own aborted signal to timeout', async () => {
    openai.nextDelay(3_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await failureOf(model().reply({ systemPrompt: '', history: [], message: 'slow', signal: controller.signal }));

    expect(error.failure).toBe('timeout');
    expect(error.message).toContain('openai');
  });

  it('maps a filtered (null) content, an empty choice list and an empty text to failed', async () => {
    openai.nextNoText('content_filter');
    expect((await failureOf(ask('one'))).message).toBe('openai returned no text (finish reason: content_filter)');

    // A limit spent before any text (a local reasoning model thinking) is no reply either.
    openai.nextNoText('length');
    expect((await failureOf(ask('one and a half'))).message).toBe('openai returned no text (finish reason: length)');

    openai.nextEmpty();
    expect((await failureOf(ask('two'))).message).toBe('openai returned no text (no choices)');

    openai.nextReply('');
    expect((await failureOf(ask('three'))).message).toBe('openai returned no text (empty reply)');
  });

  it('maps an unreachable server to failed', async () => {
    const closed = await startOpenAiServer();
    const url = closed.url;
    await closed.close();
    const offline = createOpenAiChatModel({ baseUrl: url, apiKey: API_KEY, model: MODEL, maxOutputTokens: MAX_OUTPUT_TOKENS });

    const error = await failureOf(replyWithin(offline, { systemPrompt: '', history: [], message: 'hi' }, 5_000));

    expect(error.failure).toBe('failed');
    expect(error.message).toMatch(/^openai failed: .*ECONNREFUSED/);
    expect(error.message).not.toContain(API_KEY);
  });
});
