// For tests of ChatModels and replyWithin, which all check how a call fails.
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
