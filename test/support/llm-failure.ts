// For tests of ChatModels, streamWithin and replyWithin, which all check how a call fails.
import { expect } from 'vitest';
import { LlmError } from '../../src/errors.ts';

/** The LlmError a call rejects with (fails the test when it resolves or rejects with anything else). */
export async function failureOf(call: Promise<unknown>): Promise<LlmError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LlmError);
  return error as LlmError;
}

/** Every delta of a stream that must succeed. */
export async function collectDeltas(deltas: AsyncIterable<string>): Promise<string[]> {
  const seen: string[] = [];
  for await (const delta of deltas) seen.push(delta);
  return seen;
}

/**
 * The deltas a stream yielded before it failed, and its LlmError (fails the test when the stream
 * ends well or fails with anything else). `onDelta` runs after each delta, e.g. to abort mid-way.
 */
export async function collectUntilFailure(
  deltas: AsyncIterable<string>,
  onDelta?: (delta: string) => void,
): Promise<{ seen: string[]; error: LlmError }> {
  const seen: string[] = [];
  const error = await failureOf(
    (async () => {
      for await (const delta of deltas) {
        seen.push(delta);
        onDelta?.(delta);
      }
    })(),
  );
  return { seen, error };
}
