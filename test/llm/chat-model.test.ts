// replyWithin against hand-written ChatModels that misbehave in the ways real providers can.
import { describe, expect, it } from 'vitest';
import { failureOf } from '../support/llm-failure.ts';
import { replyWithin, type ChatModel, type ChatRequest } from '../../src/llm/chat-model.ts';
import { LlmError } from '../../src/errors.ts';

function modelThat(reply: (request: ChatRequest) => Promise<string>): ChatModel {
  return { provider: 'fake', description: 'fake (test)', reply };
}

const request = { systemPrompt: 'Be kind.', history: [], message: 'hi' };

describe('replyWithin', () => {
  it('returns the reply and passes the request through with a live signal', async () => {
    let seen: ChatRequest | undefined;
    const text = await replyWithin(
      modelThat(async (r) => {
        seen = r;
        return 'hello';
      }),
      request,
      1_000,
    );
    expect(text).toBe('hello');
    expect(seen).toMatchObject(request);
    expect(seen?.signal.aborted).toBe(false);
  });

  it('drops NUL characters, which PostgreSQL cannot store, and fails a reply left empty', async () => {
    expect(await replyWithin(modelThat(async () => 'a\u0000b'), request, 1_000)).toBe('ab');
    const failure = await failureOf(replyWithin(modelThat(async () => '\u0000 \u0000'), request, 1_000));
    expect(failure).toMatchObject({ failure: 'failed', message: 'fake returned no text' });
  });

  it('gives up at the deadline even when the provider ignores its signal', async () => {
    let signal: AbortSignal | undefined;
    const started = Date.now();

    const error = await failureOf(
      replyWithin(
        modelThat((r) => {
          signal = r.signal;
          return new Promise<string>(() => {}); // never settles
        }),
        request,
        100,
      ),
    );

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.failure).toBe('timeout');
    expect(error.provider).toBe('fake');
    expect(error.message).toBe('fake did not answer within 100 ms');
    expect(signal?.aborted).toBe(true);
  });

  it("reports the deadline even when the provider turns the abort into its own error", async () => {
    const model = modelThat(
      (r) =>
        new Promise<string>((_, reject) => {
          r.signal.addEventListener('abort', () => reject(new LlmError('fake', 'failed', 'fake failed: aborted')));
        }),
    );
    const error = await failureOf(replyWithin(model, request, 50));
    expect(error.failure).toBe('timeout');
  });

  it("passes a provider's LlmError through unchanged", async () => {
    const original = new LlmError('fake', 'rate_limited', 'fake is rate limited', 4);
    const error = await failureOf(
      replyWithin(
        modelThat(async () => {
          throw original;
        }),
        request,
        1_000,
      ),
    );
    expect(error).toBe(original);
  });

  it('wraps any other error as failed, keeping its text out of the message', async () => {
    const secret = 'sk-should-never-leak';
    const cause = new TypeError(`request to https://x.test/?key=${secret} failed`);

    const error = await failureOf(
      replyWithin(
        modelThat(async () => {
          throw cause;
        }),
        request,
        1_000,
      ),
    );

    expect(error.failure).toBe('failed');
    expect(error.message).toBe('fake failed (TypeError)');
    expect(error.message).not.toContain(secret);
    expect(error.cause).toBe(cause);
  });
});
