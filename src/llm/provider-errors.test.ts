import { describe, expect, it } from 'vitest';
import { describeNetworkError, displayUrl, isTimeoutError, parseDurationSeconds, parseRetryAfter, safeDetail } from './provider-errors.ts';

describe('parseRetryAfter', () => {
  it('reads delay-seconds, rounding up', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(' 2.2 ')).toBe(3);
    expect(parseRetryAfter('0')).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  it('gives undefined for a missing or unreadable header', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('parseDurationSeconds', () => {
  it('reads protobuf durations such as RetryInfo.retryDelay', () => {
    expect(parseDurationSeconds('7s')).toBe(7);
    expect(parseDurationSeconds('0.250s')).toBe(1);
    expect(parseDurationSeconds('7')).toBeUndefined();
    expect(parseDurationSeconds(7)).toBeUndefined();
  });
});

describe('safeDetail', () => {
  it('removes every copy of the secret', () => {
    expect(safeDetail('key abc123 rejected (abc123)', 'abc123')).toBe('key [redacted] rejected ([redacted])');
  });

  it('flattens whitespace and bounds the length', () => {
    expect(safeDetail('line one\n  line two', undefined)).toBe('line one line two');
    const long = safeDetail('x'.repeat(1_000), undefined);
    expect(long.length).toBeLessThan(310);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('isTimeoutError and describeNetworkError', () => {
  it('recognises the abort and timeout errors of fetch', () => {
    expect(isTimeoutError(new DOMException('aborted', 'AbortError'))).toBe(true);
    expect(isTimeoutError(new DOMException('timed out', 'TimeoutError'))).toBe(true);
    const headersTimeout = Object.assign(new Error('headers'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(isTimeoutError(new TypeError('fetch failed', { cause: headersTimeout }))).toBe(true);
    expect(isTimeoutError(new Error('boom'))).toBe(false);
  });

  it("names the cause's code, as Node's fetch hides it there", () => {
    const error = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    expect(describeNetworkError(error)).toBe('fetch failed (ECONNREFUSED)');
    expect(describeNetworkError(new Error('plain'))).toBe('plain');
  });

  it('says what undici means by "terminated": a body the peer cut off', () => {
    const cut = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(describeNetworkError(cut)).toBe('the connection was cut off (UND_ERR_SOCKET)');
  });
});

describe('displayUrl', () => {
  it('hides basic-auth credentials and leaves other URLs alone', () => {
    expect(displayUrl('http://user:s3cret@proxy.local:8080/v1')).toBe('http://***@proxy.local:8080/v1');
    expect(displayUrl('http://127.0.0.1:11434/v1')).toBe('http://127.0.0.1:11434/v1');
  });
});
