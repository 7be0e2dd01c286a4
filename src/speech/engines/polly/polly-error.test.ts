import { describe, expect, it } from 'vitest';
import { describePollyError, isRefusalOfInput } from './polly-error.ts';

describe('describePollyError', () => {
  it('names the error, then its message', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    expect(describePollyError(throttled)).toBe('ThrottlingException: Rate exceeded');
  });

  it('uses the code of a Node network error in place of the generic name', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describePollyError(refused)).toBe('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9');
  });

  it('does not repeat a message that only restates the name', () => {
    const bare = Object.assign(new Error('UnknownError'), { name: 'UnknownError' });
    expect(describePollyError(bare)).toBe('UnknownError');
    expect(describePollyError('boom')).toBe('boom');
  });
});

describe('isRefusalOfInput', () => {
  const named = (name: string) => Object.assign(new Error('x'), { name });

  it('is true for the answers that refuse the text or the voice, which retrying cannot change', () => {
    for (const name of ['ValidationException', 'TextLengthExceededException', 'EngineNotSupportedException', 'InvalidSsmlException']) {
      expect(isRefusalOfInput(named(name)), name).toBe(true);
    }
  });

  it('is false for outages, throttling, credentials and network errors, which end', () => {
    for (const name of ['ThrottlingException', 'ServiceFailureException', 'ServiceUnavailableException', 'UnrecognizedClientException', 'AccessDeniedException', 'TimeoutError']) {
      expect(isRefusalOfInput(named(name)), name).toBe(false);
    }
    expect(isRefusalOfInput(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRefusalOfInput('ValidationException')).toBe(false);
  });
});
