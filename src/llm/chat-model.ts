// The narrow interface every LLM provider implements. They all throw LlmError (src/errors.ts).
import { LlmError } from '../errors.ts';

export type ChatRole = 'user' | 'model';

export interface ChatTurn {
  role: ChatRole;
  content: string;
}

export interface ChatRequest {
  /** The persona's system prompt; may be empty. */
  systemPrompt: string;
  /** Recent history, oldest first, already cut to LLM_HISTORY_LIMIT. */
  history: ChatTurn[];
  /** The new user message. */
  message: string;
  /** Aborted when LLM_TIMEOUT_MS runs out, or when the caller stops reading the reply. */
  signal: AbortSignal;
}

export interface ChatModel {
  /** 'gemini', 'openai' or 'offline': named in errors and logs. */
  readonly provider: string;
  /** A one-line description for the start-up log, e.g. "gemini (gemini-2.5-flash)". */
  readonly description: string;
  /**
   * The reply as text deltas, in order: joined, they are the whole reply. Leaving the iteration early
   * (return()) closes the provider's connection.
   */
  stream(request: ChatRequest): AsyncIterable<string>;
}

/**
 * Streams `model`'s reply, but gives up `timeoutMs` after the first next(): the deadline covers the
 * whole reply, not only its first byte, and it keeps running while the caller handles a delta. Each
 * next() is raced against the deadline, so even a provider that ignores its signal cannot hold the
 * caller; the signal is still aborted so that well-behaved providers close their connection.
 *
 * Whatever goes wrong comes out as an LlmError: the deadline as 'timeout', a provider's LlmError as
 * it is, anything else as 'failed'; a reply that ends blank as 'failed' too. Deltas left empty once
 * their NUL characters are gone are not yielded. A caller that stops early (break, return()) aborts
 * the signal and closes the provider's iterator.
 */
export async function* streamWithin(
  model: ChatModel,
  request: Omit<ChatRequest, 'signal'>,
  timeoutMs: number,
): AsyncGenerator<string, void, undefined> {
  const controller = new AbortController();
  const deadlineError = new LlmError(model.provider, 'timeout', `${model.provider} did not answer within ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(deadlineError);
      controller.abort(deadlineError);
    }, timeoutMs);
  });
  // The deadline may pass while the caller holds a delta and nothing races it; that is no crash.
  deadline.catch(() => {});

  let deltas: AsyncIterator<string> | undefined;
  let ended = false;
  let sawText = false;
  try {
    while (true) {
      let next: IteratorResult<string>;
      try {
        deltas ??= model.stream({ ...request, signal: controller.signal })[Symbol.asyncIterator]();
        next = await Promise.race([deltas.next(), deadline]);
      } catch (error) {
        // Once the deadline has passed, whatever the provider made of the abort is the deadline's doing.
        throw controller.signal.aborted ? deadlineError : asLlmError(model.provider, error);
      }
      if (next.done) {
        ended = true;
        break;
      }
      // PostgreSQL text cannot hold U+0000; a model that emits one must not cost the reply.
      const delta = next.value.replaceAll('\u0000', '');
      if (!delta) continue;
      sawText ||= /\S/.test(delta);
      yield delta;
    }
  } finally {
    if (!ended) {
      // Stopped early, failed or timed out: the provider drops its connection and closes. Waiting for
      // that ends at the deadline, as a provider stuck in a next() that ignores its signal never closes.
      if (!controller.signal.aborted) controller.abort(new Error('the caller stopped reading the reply'));
      await Promise.race([closeQuietly(deltas), deadline]).catch(() => {});
    }
    clearTimeout(timer);
  }
  if (!sawText) throw new LlmError(model.provider, 'failed', `${model.provider} returned no text`);
}

/**
 * The whole reply as one string: streamWithin's deltas joined, with the same deadline and errors.
 * For callers that have no use for deltas.
 */
export async function replyWithin(
  model: ChatModel,
  request: Omit<ChatRequest, 'signal'>,
  timeoutMs: number,
): Promise<string> {
  let reply = '';
  for await (const delta of streamWithin(model, request, timeoutMs)) reply += delta;
  return reply;
}

function asLlmError(provider: string, error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  // Only the error's class goes into the message: a foreign message may quote a key or a URL.
  const kind = error instanceof Error ? error.name : typeof error;
  return new LlmError(provider, 'failed', `${provider} failed (${kind})`, undefined, { cause: error });
}

/** The provider's own errors while closing are of no interest: the reply is over either way. */
async function closeQuietly(iterator: AsyncIterator<unknown> | undefined): Promise<void> {
  try {
    await iterator?.return?.();
  } catch {
    // Nothing left to close.
  }
}
