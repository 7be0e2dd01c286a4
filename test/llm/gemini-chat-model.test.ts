// The Gemini ChatModel through the real @google/genai SDK against a loopback Gemini server.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { GoogleGenAI } from '@google/genai';
import { replyWithin, streamWithin, type ChatTurn } from '../../src/llm/chat-model.ts';
import { createChatModel } from '../../src/llm/create-chat-model.ts';
import { createGeminiChatModel } from '../../src/llm/gemini-chat-model.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { collectDeltas, collectUntilFailure, failureOf } from '../support/llm-failure.ts';

const API_KEY = 'AIza-test-key-0123456789-secret';
const MODEL = 'gemini-2.5-flash';
const MAX_OUTPUT_TOKENS = 2048;

let gemini: GeminiServer;
beforeAll(async () => {
  gemini = await startGeminiServer({ apiKey: API_KEY });
});
afterAll(async () => {
  await gemini.close();
});
beforeEach(() => gemini.reset());

const model = () =>
  createGeminiChatModel({ apiKey: API_KEY, model: MODEL, baseUrl: gemini.url, maxOutputTokens: MAX_OUTPUT_TOKENS });
const ask = (message: string, history: ChatTurn[] = [], systemPrompt = '') =>
  replyWithin(model(), { systemPrompt, history, message }, 5_000);
/** No persona, no history. */
const quiet = { systemPrompt: '', history: [] };
const deltasOf = (message: string, timeoutMs = 5_000) => streamWithin(model(), { ...quiet, message }, timeoutMs);

describe('gemini chat model', () => {
  it('describes itself with provider and model', () => {
    expect(model().provider).toBe('gemini');
    expect(model().description).toContain(MODEL);
  });

  it('sends the persona as systemInstruction and the history with roles user/model, in order', async () => {
    gemini.nextReply('Arr, the sea is wide.');
    const history: ChatTurn[] = [
      { role: 'user', content: 'Hello' },
      { role: 'model', content: 'Ahoy!' },
    ];

    const reply = await ask('Tell me about the sea', history, 'You are a pirate.');

    expect(reply).toBe('Arr, the sea is wide.');
    expect(gemini.requests).toHaveLength(1);
    const request = gemini.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent`);
    expect(request.headers['x-goog-api-key']).toBe(API_KEY);
    expect(request.body.systemInstruction?.parts?.[0]?.text).toBe('You are a pirate.');
    expect(request.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hello' }] },
      { role: 'model', parts: [{ text: 'Ahoy!' }] },
      { role: 'user', parts: [{ text: 'Tell me about the sea' }] },
    ]);
  });

  it('sends LLM_MAX_OUTPUT_TOKENS as generationConfig.maxOutputTokens: 2048 by default, or the value set', async () => {
    const env = { GEMINI_API_KEY: API_KEY, GEMINI_BASE_URL: gemini.url, GEMINI_MODEL: MODEL };
    const byDefault = createChatModel(parseConfig(env).llm);
    const custom = createChatModel(parseConfig({ ...env, LLM_MAX_OUTPUT_TOKENS: '5' }).llm);

    await replyWithin(byDefault, { systemPrompt: '', history: [], message: 'one' }, 5_000);
    await replyWithin(custom, { systemPrompt: '', history: [], message: 'two' }, 5_000);

    expect(gemini.requests.map((r) => r.body.generationConfig?.maxOutputTokens)).toEqual([2048, 5]);
  });

  it('returns a reply cut at the limit (finishReason MAX_TOKENS) as it is', async () => {
    gemini.nextTruncated('Arr, the sea is wide and');

    expect(await ask('Tell me about the sea')).toBe('Arr, the sea is wide and');
  });

  it('maps a limit spent before any text (on thinking) to failed, without calling it blocked', async () => {
    gemini.nextNoText('MAX_TOKENS');

    const error = await failureOf(ask('Think hard'));

    expect(error.failure).toBe('failed');
    expect(error.message).toBe('gemini returned no text (MAX_TOKENS: the output token limit was reached before any text)');
  });

  it('omits systemInstruction when the persona has no system prompt', async () => {
    const reply = await ask('Just checking');

    expect(reply).toBe('You said: Just checking'); // the server's default echo
    expect(gemini.requests[0]!.body).not.toHaveProperty('systemInstruction');
  });

  it('maps a 429 with Retry-After to rate_limited with retryAfterSeconds', async () => {
    gemini.nextError(429, { retryAfter: 7, message: 'Resource has been exhausted' });

    const error = await failureOf(ask('hi'));

    expect(error.failure).toBe('rate_limited');
    expect(error.retryAfterSeconds).toBe(7);
    expect(error.provider).toBe('gemini');
    expect(error.message).toContain('gemini');
  });

  it("falls back to Gemini's RetryInfo retryDelay when there is no Retry-After header", async () => {
    gemini.nextError(429, { retryDelay: '12.5s' });

    const error = await failureOf(ask('hi'));

    expect(error.failure).toBe('rate_limited');
    expect(error.retryAfterSeconds).toBe(13);
  });

  it('does not retry a 429 (the client gets it straight away)', async () => {
    gemini.nextError(429, { retryAfter: 1 });

    await failureOf(ask('hi'));

    expect(gemini.requests).toHaveLength(1);
  });

  it('maps a 500 to failed, naming the provider and the status, without the API key', async () => {
    // The upstream message quotes the key, as a careless proxy might.
    gemini.nextError(500, { message: `internal error for key ${API_KEY}` });

    const error = await failureOf(ask('hi'));

    expect(error.failure).toBe('failed');
    expect(error.message).toMatch(/^gemini failed: HTTP 500 internal error/);
    expect(error.message).not.toContain(API_KEY);
    expect(error.retryAfterSeconds).toBeUndefined();
  });

  it('maps a rejected key (400) to failed without echoing the key', async () => {
    const wrongKey = 'AIza-wrong-key-secret';
    const badModel = createGeminiChatModel({ apiKey: wrongKey, model: MODEL, baseUrl: gemini.url, maxOutputTokens: MAX_OUTPUT_TOKENS });

    const error = await failureOf(replyWithin(badModel, { systemPrompt: '', history: [], message: 'hi' }, 5_000));

    expect(error.failure).toBe('failed');
    expect(error.message).toContain('HTTP 400');
    expect(error.message).not.toContain(wrongKey);
  });

  it('turns a reply slower than the deadline into timeout and aborts the HTTP request', async () => {
    gemini.nextDelay(3_000);
    const started = Date.now();

    const error = await failureOf(replyWithin(model(), { systemPrompt: '', history: [], message: 'slow' }, 300));

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.failure).toBe('timeout');
    expect(error.message).toBe('gemini did not answer within 300 ms');
    // The signal reached the SDK: the connection was dropped rather than left to finish.
    await vi.waitFor(() => expect(gemini.requests[0]?.clientAborted).toBe(true));
  });

  it('maps its own aborted signal to timeout, before the stream and mid-way', async () => {
    gemini.nextDelay(3_000);
    const early = new AbortController();
    setTimeout(() => early.abort(), 100);
    const before = await collectUntilFailure(model().stream({ ...quiet, message: 'slow', signal: early.signal }));
    expect(before.error.failure).toBe('timeout');
    expect(before.error.message).toContain('gemini');

    void gemini.holdAfter(1);
    const late = new AbortController();
    const stalling = model().stream({ ...quiet, message: 'stalls', signal: late.signal });
    const midway = await collectUntilFailure(stalling, () => late.abort());
    expect(midway.seen).toHaveLength(1);
    expect(midway.error.failure).toBe('timeout');
  });

  it('maps a blocked prompt to failed with the block reason', async () => {
    gemini.nextBlocked('PROHIBITED_CONTENT');

    const error = await failureOf(ask('something bad'));

    expect(error.failure).toBe('failed');
    expect(error.message).toBe('gemini returned no text (blocked: PROHIBITED_CONTENT)');
  });

  it('maps a candidate that stopped for SAFETY with no text to failed', async () => {
    gemini.nextNoText('SAFETY');

    const error = await failureOf(ask('something risky'));

    expect(error.failure).toBe('failed');
    expect(error.message).toBe('gemini returned no text (blocked: SAFETY)');
  });

  it('maps an empty candidate list and an empty text to failed', async () => {
    gemini.nextEmpty();
    expect((await failureOf(ask('one'))).message).toBe('gemini returned no text (no candidates)');

    gemini.nextReply('   ');
    expect((await failureOf(ask('two'))).message).toBe('gemini returned no text (empty reply)');

    // Blank chunks of a longer stream are no reply either.
    gemini.nextDeltas(['  ', '\n', ' ']);
    expect((await failureOf(ask('three'))).message).toBe('gemini returned no text (empty reply)');
  });

  it('maps an unreachable server to failed', async () => {
    const closed = await startGeminiServer();
    const url = closed.url;
    await closed.close();
    const offline = createGeminiChatModel({ apiKey: API_KEY, model: MODEL, baseUrl: url, maxOutputTokens: MAX_OUTPUT_TOKENS });

    const error = await failureOf(replyWithin(offline, { systemPrompt: '', history: [], message: 'hi' }, 5_000));

    expect(error.failure).toBe('failed');
    expect(error.message).toMatch(/^gemini failed: .*ECONNREFUSED/);
    expect(error.message).not.toContain(API_KEY);
  });

  describe('streaming', () => {
    it('streams the reply in the chunks the server sends, more than one, joined to the whole reply', async () => {
      gemini.nextDeltas(['Arr, ', 'the sea ', 'is wide.']);
      expect(await collectDeltas(deltasOf('Tell me about the sea'))).toEqual(['Arr, ', 'the sea ', 'is wide.']);

      const long = 'The sea is wide, the sea is deep, and every wave remembers the wind that made it.';
      gemini.nextReply(long);
      const deltas = await collectDeltas(deltasOf('More'));
      expect(deltas.length).toBeGreaterThan(2);
      expect(deltas.join('')).toBe(long);
      expect(gemini.requests[1]!.chunksSent).toBe(deltas.length);
    });

    it('hands out deltas while the stream is still open', async () => {
      gemini.nextDeltas(['one ', 'two ', 'three ', 'four']);
      const held = gemini.holdAfter(2);
      const deltas = deltasOf('count')[Symbol.asyncIterator]();

      expect((await deltas.next()).value).toBe('one ');
      expect((await deltas.next()).value).toBe('two ');
      await held;
      expect(gemini.requests[0]!.chunksSent).toBe(2);

      gemini.release();
      const rest: string[] = [];
      for (let next = await deltas.next(); !next.done; next = await deltas.next()) rest.push(next.value);
      expect(rest).toEqual(['three ', 'four']);
    });

    it('skips thought parts', async () => {
      gemini.nextDeltas([{ thought: 'The user wants the sea.' }, 'Arr, ', { thought: 'Be brief.' }, 'wide.']);
      expect(await collectDeltas(deltasOf('sea'))).toEqual(['Arr, ', 'wide.']);
    });

    it('strips U+0000 from the deltas', async () => {
      gemini.nextDeltas(['Ar\u0000r, ', '\u0000', 'wide.']);
      expect(await collectDeltas(deltasOf('sea'))).toEqual(['Arr, ', 'wide.']);
    });

    it('maps an error event mid-stream to failed, after the deltas that came first', async () => {
      gemini.setChunkChars(5);
      gemini.nextStreamError(2, { status: 500, message: `model overloaded for key ${API_KEY}`, text: 'Arr, the sea is wide.' });

      const { seen, error } = await collectUntilFailure(deltasOf('sea'));

      expect(seen).toEqual(['Arr, ', 'the s']);
      expect(error.failure).toBe('failed');
      expect(error.message).toMatch(/^gemini failed mid-reply: HTTP 500 model overloaded for key \[redacted\]$/);
    });

    it('maps a 429 error event mid-stream to rate_limited with its RetryInfo delay', async () => {
      gemini.nextStreamError(1, { status: 429, message: 'Resource has been exhausted', retryDelay: '4s' });

      const { seen, error } = await collectUntilFailure(deltasOf('sea'));

      expect(seen).toHaveLength(1);
      expect(error.failure).toBe('rate_limited');
      expect(error.retryAfterSeconds).toBe(4);
      expect(error.message).toBe('gemini is rate limited: Resource has been exhausted');
    });

    it('maps a connection cut mid-stream to failed', async () => {
      const text = 'Arr, the sea is wide and deep, and full of fish that nobody has named.';
      gemini.nextStreamError(2, { as: 'drop', text });
      // Held after the two chunks until they are read, so that the cut cannot overtake them.
      void gemini.holdAfter(2);
      let read = 0;

      const { seen, error } = await collectUntilFailure(deltasOf('sea'), () => {
        read += 1;
        if (read === 2) gemini.release();
      });

      expect(seen.join('')).toBe(text.slice(0, 48)); // two chunks of 24 characters
      expect(error.failure).toBe('failed');
      expect(error.message).toBe('gemini failed mid-reply: the connection was cut off (UND_ERR_SOCKET)');
      expect(gemini.requests[0]!.clientAborted).toBe(false);
    });

    it('gives up on a stream that stalls mid-way at the deadline, and drops the connection', async () => {
      const held = gemini.holdAfter(1);
      const started = Date.now();

      const { seen, error } = await collectUntilFailure(deltasOf('stall', 300));

      await held;
      expect(seen).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error.failure).toBe('timeout');
      expect(error.message).toBe('gemini did not answer within 300 ms');
      await vi.waitFor(() => expect(gemini.requests[0]?.clientAborted).toBe(true));
    });

    it('hangs up when the caller stops reading early, through streamWithin or the model itself', async () => {
      void gemini.holdAfter(1);
      for await (const delta of deltasOf('stop early')) {
        expect(delta).not.toBe('');
        break;
      }
      await vi.waitFor(() => expect(gemini.requests[0]?.clientAborted).toBe(true));

      // Without streamWithin's signal: the SDK alone would leave the response open.
      void gemini.holdAfter(1);
      const signal = new AbortController().signal;
      for await (const delta of model().stream({ ...quiet, message: 'stop early', signal })) {
        expect(delta).not.toBe('');
        break;
      }
      await vi.waitFor(() => expect(gemini.requests[1]?.clientAborted).toBe(true));
      expect(signal.aborted).toBe(false);
    });

    it('paces the chunks at a set rate, after the time to first token', async () => {
      gemini.setChunkChars(10);
      gemini.setStreamRate({ charsPerSecond: 500, firstTokenMs: 150 });
      gemini.nextReply('x'.repeat(50)); // 5 chunks: the first at 150 ms, then one every 20 ms
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

    it('still answers generateContent without streaming, with the same scripts', async () => {
      const client = new GoogleGenAI({ apiKey: API_KEY, vertexai: false, httpOptions: { baseUrl: gemini.url } });
      gemini.nextDeltas(['Arr, ', { thought: 'hmm' }, 'wide.']);

      const response = await client.models.generateContent({ model: MODEL, contents: 'sea' });

      expect(response.text).toBe('Arr, wide.');
      expect(gemini.requests[0]!.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
      expect(gemini.requests[0]!.streaming).toBe(false);
    });
  });
});
