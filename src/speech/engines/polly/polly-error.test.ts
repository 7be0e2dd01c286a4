import { describe, expect, it } from 'vitest';
import { describePollyError } from './polly-error.ts';

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
