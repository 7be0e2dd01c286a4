// streamWithin (and replyWithin on top of it) against hand-written ChatModels that misbehave in the
// ways real providers can.
import { describe, expect, it } from 'vitest';
import { collectDeltas as collect, collectUntilFailure, failureOf } from '../support/llm-failure.ts';
import { replyWithin, streamWithin, type ChatModel, type ChatRequest } from '../../src/llm/chat-model.ts';
import { LlmError } from '../../src/errors.ts';

function modelThat(stream: (request: ChatRequest) => AsyncIterable<string>): ChatModel {
  return { provider: 'fake', description: 'fake (test)', stream };
}

/** A model that streams these deltas, one per next(). */
const modelSaying = (...deltas: string[]) =>
  modelThat(async function* () {
    yield* deltas;
  });

/** A model whose stream fails with `error` after these deltas. */
const modelFailing = (error: unknown, ...deltas: string[]) =>
  modelThat(async function* () {
    yield* deltas;
    throw error;
  });

const request = { systemPrompt: 'Be kind.', history: [], message: 'hi' };

describe('streamWithin', () => {
  it('yields the deltas in order and passes the request through with a live signal', async () => {
    let seen: ChatRequest | undefined;
    const model = modelThat(async function* (r) {
      seen = r;
      yield 'Hel';
      yield 'lo, ';
      yield 'you.';
    });

    expect(await collect(streamWithin(model, request, 1_000))).toEqual(['Hel', 'lo, ', 'you.']);
    expect(seen).toMatchObject(request);
    expect(seen?.signal.aborted).toBe(false);
  });

  it('drops NUL characters, which PostgreSQL cannot store, and the deltas they leave empty', async () => {
    expect(await collect(streamWithin(modelSaying('a\u0000b', '\u0000', '', 'c'), request, 1_000))).toEqual(['ab', 'c']);
  });

  it('fails a reply that ends blank, after yielding its whitespace', async () => {
    const { seen, error } = await collectUntilFailure(streamWithin(modelSaying('\u0000 ', '\u0000', '\n'), request, 1_000));
    expect(seen).toEqual([' ', '\n']);
    expect(error).toMatchObject({ failure: 'failed', provider: 'fake', message: 'fake returned no text' });

    const nothing = await collectUntilFailure(streamWithin(modelSaying(), request, 1_000));
    expect(nothing.error.message).toBe('fake returned no text');
  });

  it('gives up at the deadline when the provider stalls mid-way and ignores its signal', async () => {
    let signal: AbortSignal | undefined;
    const model = modelThat(async function* (r) {
      signal = r.signal;
      yield 'first ';
      await new Promise(() => {}); // never settles, whatever the signal says
    });
    const started = Date.now();

    const { seen, error } = await collectUntilFailure(streamWithin(model, request, 100));

    expect(seen).toEqual(['first ']);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.failure).toBe('timeout');
    expect(error.provider).toBe('fake');
    expect(error.message).toBe('fake did not answer within 100 ms');
    expect(signal?.aborted).toBe(true);
  });

  it('counts the time the caller spends on each delta against the deadline', async () => {
    const model = modelSaying('one ', 'two ', 'three');
    const seen: string[] = [];

    const error = await failureOf(
      (async () => {
        for await (const delta of streamWithin(model, request, 100)) {
          seen.push(delta);
          await new Promise((resolve) => setTimeout(resolve, 150)); // a slow consumer
        }
      })(),
    );

    expect(seen).toEqual(['one ']);
    expect(error.failure).toBe('timeout');
  });

  it('reports the deadline even when the provider turns the abort into its own error', async () => {
    const model = modelThat(async function* (r) {
      yield 'partial ';
      await new Promise<void>((_, reject) => {
        r.signal.addEventListener('abort', () => reject(new LlmError('fake', 'failed', 'fake failed: aborted')));
      });
    });
    const { error } = await collectUntilFailure(streamWithin(model, request, 50));
    expect(error.failure).toBe('timeout');
  });

  it('closes the provider and aborts its signal when the caller stops early', async () => {
    let signal: AbortSignal | undefined;
    let closed = false;
    let producedAfterStop = false;
    const model = modelThat(async function* (r) {
      signal = r.signal;
      try {
        yield 'one ';
        yield 'two ';
        producedAfterStop = true;
        yield 'three';
      } finally {
        closed = true;
      }
    });

    for await (const delta of streamWithin(model, request, 1_000)) {
      if (delta === 'two ') break;
    }

    expect(signal?.aborted).toBe(true);
    expect(closed).toBe(true);
    expect(producedAfterStop).toBe(false);
  });

  it("passes a provider's LlmError through unchanged, before or after some deltas", async () => {
    const original = new LlmError('fake', 'rate_limited', 'fake is rate limited', 4);
    expect((await collectUntilFailure(streamWithin(modelFailing(original), request, 1_000))).error).toBe(original);

    const midway = await collectUntilFailure(streamWithin(modelFailing(original, 'some ', 'text'), request, 1_000));
    expect(midway.seen).toEqual(['some ', 'text']);
    expect(midway.error).toBe(original);
  });

  it('wraps any other error as failed, keeping its text out of the message', async () => {
    const secret = 'sk-should-never-leak';
    const cause = new TypeError(`request to https://x.test/?key=${secret} failed`);

    const { error } = await collectUntilFailure(streamWithin(modelFailing(cause, 'half a '), request, 1_000));

    expect(error.failure).toBe('failed');
    expect(error.message).toBe('fake failed (TypeError)');
    expect(error.message).not.toContain(secret);
    expect(error.cause).toBe(cause);
  });

  it('wraps a provider whose stream() throws before iterating', async () => {
    const model = modelThat(() => {
      throw new RangeError('bad request shape');
    });
    const { error } = await collectUntilFailure(streamWithin(model, request, 1_000));
    expect(error.message).toBe('fake failed (RangeError)');
  });
});

describe('replyWithin', () => {
  it('joins the deltas, with the same cleaning and errors as streamWithin', async () => {
    expect(await replyWithin(modelSaying('Hel', 'lo\u0000', ' you'), request, 1_000)).toBe('Hello you');
    expect((await failureOf(replyWithin(modelSaying(' ', '\u0000'), request, 1_000))).message).toBe('fake returned no text');
    const original = new LlmError('fake', 'failed', 'fake failed: HTTP 500');
    expect(await failureOf(replyWithin(modelFailing(original, 'Hel'), request, 1_000))).toBe(original);
  });
});
