// The errors every layer may throw. They say what went wrong in words a client can read, and they
// carry no status code: http/error-handler.ts is the one place that maps them to HTTP answers.
// Their messages reach clients, so they never quote a secret, a credential or a full upstream URL.

/** Input that is malformed in a way the request schemas cannot express (a NUL character, say). */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** The thing named does not exist, or the caller may not know that it exists. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** Well-formed input that names something we cannot use, such as a voice the engine cannot speak. */
export class UnprocessableError extends Error {
  override readonly name = 'UnprocessableError';
}

export type LlmFailure =
  /** The provider answered 429. */
  | 'rate_limited'
  /** No answer within LLM_TIMEOUT_MS. */
  | 'timeout'
  /** Anything else: 5xx, network, an empty or blocked candidate. */
  | 'failed';

/**
 * What every LLM provider throws. `message` names the provider and what went wrong, and must never
 * contain an API key or a full request URL with credentials in it: it reaches clients.
 */
export class LlmError extends Error {
  override readonly name = 'LlmError';

  constructor(
    readonly provider: string,
    readonly failure: LlmFailure,
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A failure of the speech engine itself (not of the caller's input). */
export class SpeechError extends Error {
  override readonly name = 'SpeechError';
  /**
   * True when the engine refused this text or voice (an unknown voice, text it rejects): the same
   * call would fail again, so retrying it only costs time. False for outages, which end.
   */
  readonly permanent: boolean;

  constructor(message: string, options?: { cause?: unknown; permanent?: boolean }) {
    super(message, options);
    this.permanent = options?.permanent ?? false;
  }
}

/** The same request is still being handled (an Idempotency-Key in flight). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * No usable credential. The message says what the caller can fix (none sent, a malformed header, an
 * expired token) and never whether a key exists or was revoked: all bad keys read alike.
 */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';

  /** tokenProblem: the credential was a JWT that was refused, so RFC 6750's invalid_token applies. */
  constructor(
    message: string,
    readonly tokenProblem = false,
  ) {
    super(message);
  }
}

/** A known principal asked for something its role may not do, such as a user changing a shared persona. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/** A rate limit was reached. The message names the limit and its variable. */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The identity provider's JWKS could not be fetched, so no token can be checked for now. */
export class IdentityProviderError extends Error {
  override readonly name = 'IdentityProviderError';
}

/**
 * The database cannot be reached: stopped, restarting, out of connections, or the network to it is
 * down. Nothing about the request was wrong, and the same request may succeed once it is back.
 * `reason` is a short, safe description of the failure (an error code such as ECONNREFUSED, or a
 * SQLSTATE), for logs and /readyz; the message stays the same whatever the cause.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';

  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('the database is unavailable; retry later', options);
  }
}
