// The OpenAI-compatible ChatModel through the real openai SDK against a loopback chat completions server.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import OpenAI from 'openai';
import { replyWithin, streamWithin, type ChatTurn } from '../../src/llm/chat-model.ts';
import { createChatModel } from '../../src/llm/create-chat-model.ts';
import { createOpenAiChatModel } from '../../src/llm/openai-chat-model.ts';
import { startOpenAiServer, type OpenAiServer } from '../support/openai-server.ts';
import { collectDeltas, collectUntilFailure, failureOf } from '../support/llm-failure.ts';

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
/** No persona, no history. */
const quiet = { systemPrompt: '', history: [] };
const deltasOf = (message: string, timeoutMs = 5_000) => streamWithin(model(), { ...quiet, message }, timeoutMs);

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
    expect(request.body.stream).toBe(true);
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

  it('maps its own aborted signal to timeout, before the stream and mid-way', async () => {
    openai.nextDelay(3_000);
    const early = new AbortController();
    setTimeout(() => early.abort(), 100);
    const before = await collectUntilFailure(model().stream({ ...quiet, message: 'slow', signal: early.signal }));
    expect(before.error.failure).toBe('timeout');
    expect(before.error.message).toContain('openai');

    // The SDK ends an aborted stream quietly; the part that came is still no reply.
    void openai.holdAfter(1);
    const late = new AbortController();
    const stalling = model().stream({ ...quiet, message: 'stalls', signal: late.signal });
    const midway = await collectUntilFailure(stalling, () => late.abort());
    expect(midway.seen).toHaveLength(1);
    expect(midway.error.failure).toBe('timeout');
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

    openai.nextDeltas(['  ', '\n', ' ']);
    expect((await failureOf(ask('four'))).message).toBe('openai returned no text (empty reply)');
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

  describe('streaming', () => {
    it('streams the reply in the chunks the server sends, more than one, joined to the whole reply', async () => {
      openai.nextDeltas(['Arr, ', 'the sea ', 'is wide.']);
      expect(await collectDeltas(deltasOf('Tell me about the sea'))).toEqual(['Arr, ', 'the sea ', 'is wide.']);

      const long = 'The sea is wide, the sea is deep, and every wave remembers the wind that made it.';
      openai.nextReply(long);
      const deltas = await collectDeltas(deltasOf('More'));
      expect(deltas.length).toBeGreaterThan(2);
      expect(deltas.join('')).toBe(long);
      expect(openai.requests[1]!.chunksSent).toBe(deltas.length);
    });

    it('hands out deltas while the stream is still open', async () => {
      openai.nextDeltas(['one ', 'two ', 'three ', 'four']);
      const held = openai.holdAfter(2);
      const deltas = deltasOf('count')[Symbol.asyncIterator]();

      expect((await deltas.next()).value).toBe('one ');
      expect((await deltas.next()).value).toBe('two ');
      await held;
      expect(openai.requests[0]!.chunksSent).toBe(2);

      openai.release();
      const rest: string[] = [];
      for (let next = await deltas.next(); !next.done; next = await deltas.next()) rest.push(next.value);
      expect(rest).toEqual(['three ', 'four']);
    });

    it('strips U+0000 from the deltas', async () => {
      openai.nextDeltas(['Ar\u0000r, ', '\u0000', 'wide.']);
      expect(await collectDeltas(deltasOf('sea'))).toEqual(['Arr, ', 'wide.']);
    });

    it('maps an error event mid-stream to failed, after the deltas that came first', async () => {
      openai.setChunkChars(5);
      openai.nextStreamError(2, { message: `model crashed for key ${API_KEY}`, text: 'Arr, the sea is wide.' });

      const { seen, error } = await collectUntilFailure(deltasOf('sea'));

      expect(seen).toEqual(['Arr, ', 'the s']);
      expect(error.failure).toBe('failed');
      expect(error.message).toBe('openai failed mid-reply: model crashed for key [redacted]');
    });

    it("reads vLLM's numeric error code mid-stream as the status: 429 is rate_limited", async () => {
      openai.nextStreamError(1, { code: 429, type: 'TooManyRequests', message: 'queue is full' });
      const limited = await collectUntilFailure(deltasOf('sea'));
      expect(limited.seen).toHaveLength(1);
      expect(limited.error.failure).toBe('rate_limited');
      expect(limited.error.message).toBe('openai is rate limited: queue is full');

      openai.nextStreamError(1, { code: 500, type: 'InternalServerError', message: 'engine dead' });
      const failed = await collectUntilFailure(deltasOf('sea'));
      expect(failed.error.failure).toBe('failed');
      expect(failed.error.message).toBe('openai failed mid-reply: HTTP 500 engine dead');
    });

    it('maps a connection cut mid-stream to failed', async () => {
      const text = 'Arr, the sea is wide and deep, and full of fish that nobody has named.';
      openai.nextStreamError(2, { as: 'drop', text });
      // Held after the two chunks until they are read, so that the cut cannot overtake them.
      void openai.holdAfter(2);
      let read = 0;

      const { seen, error } = await collectUntilFailure(deltasOf('sea'), () => {
        read += 1;
        if (read === 2) openai.release();
      });

      expect(seen.join('')).toBe(text.slice(0, 48)); // two chunks of 24 characters
      expect(error.failure).toBe('failed');
      expect(error.message).toBe('openai failed mid-reply: the connection was cut off (UND_ERR_SOCKET)');
      expect(openai.requests[0]!.clientAborted).toBe(false);
    });

    it('gives up on a stream that stalls mid-way at the deadline, and drops the connection', async () => {
      const held = openai.holdAfter(1);
      const started = Date.now();

      const { seen, error } = await collectUntilFailure(deltasOf('stall', 300));

      await held;
      expect(seen).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error.failure).toBe('timeout');
      expect(error.message).toBe('openai did not answer within 300 ms');
      await vi.waitFor(() => expect(openai.requests[0]?.clientAborted).toBe(true));
    });

    it('hangs up when the caller stops reading early, through streamWithin or the model itself', async () => {
      void openai.holdAfter(1);
      for await (const delta of deltasOf('stop early')) {
        expect(delta).not.toBe('');
        break;
      }
      await vi.waitFor(() => expect(openai.requests[0]?.clientAborted).toBe(true));

      void openai.holdAfter(1);
      const signal = new AbortController().signal;
      for await (const delta of model().stream({ ...quiet, message: 'stop early', signal })) {
        expect(delta).not.toBe('');
        break;
      }
      await vi.waitFor(() => expect(openai.requests[1]?.clientAborted).toBe(true));
      expect(signal.aborted).toBe(false);
    });

    it('paces the chunks at a set rate, after the time to first token', async () => {
      openai.setChunkChars(10);
      openai.setStreamRate({ charsPerSecond: 500, firstTokenMs: 150 });
      openai.nextReply('x'.repeat(50)); // 5 chunks: the first at 150 ms, then one every 20 ms
      const started = performance.now();
      const arrivals: number[] = [];

      for await (const delta of deltasOf('pace')) {
        arrivals.push(performance.now() - started);
        expect(delta).toHaveLength(10);
      }

      expect(arrivals).toHaveLength(5);
      expect(arrivals[0]).toBeGreaterThanOrEqual(140);
      expect(arrivals[4]! - arrivals[0]!).toBeGreaterThanOrEqual(70);
    });

    it('still answers without streaming, with the same scripts', async () => {
      const client = new OpenAI({ baseURL: openai.url, apiKey: API_KEY, maxRetries: 0 });
      openai.nextDeltas(['Arr, ', 'wide.']);

      const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'sea' }] });

      expect(completion.choices[0]?.message.content).toBe('Arr, wide.');
      expect(openai.requests[0]!.body.stream).toBeUndefined();
    });
  });
});
