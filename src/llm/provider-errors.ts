// Small pieces the provider implementations share to turn SDK errors into safe LlmError messages.

/** Longest provider text quoted in an error message: enough to diagnose, short enough for a client. */
const MAX_DETAIL_CHARS = 300;

/**
 * Seconds to wait from a Retry-After header: either delay-seconds ("7") or an HTTP date.
 * Rounds up, so a client that waits that long is never early. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Seconds from a protobuf Duration in JSON form, as Google's RetryInfo.retryDelay uses ("7s", "0.5s"). */
export function parseDurationSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return match ? Math.ceil(Number(match[1])) : undefined;
}

/**
 * True for the errors fetch raises when a request is aborted or times out, including undici's own
 * 300 s header and body timeouts (reported as "fetch failed" with the code in `cause`).
 */
export function isTimeoutError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * Makes provider text fit for a client-facing message: one line, bounded length, and the API key
 * removed in case the provider or the SDK echoed it back.
 */
export function safeDetail(text: string, secret: string | undefined): string {
  let detail = text.replace(/\s+/g, ' ').trim();
  if (secret) detail = detail.split(secret).join('[redacted]');
  return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}...` : detail;
}

/**
 * A network failure in a few words, e.g. "fetch failed (ECONNREFUSED)". Node's fetch hides the
 * reason in `cause.code`, and calls a response body that the peer cut off just "terminated".
 */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown } | undefined;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  const what = error.message === 'terminated' ? 'the connection was cut off' : error.message;
  return `${what}${code}`;
}

/** A base URL fit for logs: any user:password@ part (basic-auth proxies) is replaced. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}
