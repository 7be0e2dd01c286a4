// JWTs from an identity provider (Cognito, Auth0, Keycloak), checked with jose against its JWKS.
// jose fetches the key set on first use, caches it, and fetches it again when a token names a kid
// it does not hold (after a rotation), at most once per cooldown.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { IdentityProviderError, UnauthorizedError } from '../errors.ts';
import type { Principal } from './principal.ts';
import { createTrustCache } from './trust-cache.ts';

export interface JwtOptions {
  jwksUrl: string;
  issuer: string;
  audience: string | undefined;
  /**
   * The least time between two fetches caused by an unknown kid (jose's default, 30 s): a flood of
   * made-up kids costs the identity provider one request per cooldown. Tests of key rotation set 0.
   */
  refetchCooldownMs?: number;
}

/** What identity providers sign with. An HS256 token "signed" with a public key is refused here. */
const ALGORITHMS = ['RS256', 'ES256'];
/** owner_id is varchar(200). */
const MAX_SUBJECT_LENGTH = 200;

/**
 * How long a verified token is trusted without checking its signature again, never past its exp.
 * jose verifies through WebCrypto, which costs 100-200 µs of the event loop per request (about 10%
 * of a 100-message history read; see docs/benchmarks.md); a client sends the same token many times.
 * The price: a token whose key the identity provider just withdrew keeps working this long, the
 * same bound as a deleted API key's on another instance.
 */
export const JWT_CACHE_MS = 5_000;
const JWT_CACHE_SIZE = 10_000;

export type JwtVerifier = (token: string) => Promise<Principal>;

export function createJwtVerifier(opts: JwtOptions): JwtVerifier {
  const keys = createRemoteJWKSet(new URL(opts.jwksUrl), {
    cooldownDuration: opts.refetchCooldownMs ?? 30_000,
    timeoutDuration: 5_000,
  });
  // By the token's SHA-256, so that the cache holds no credential and its keys stay small.
  const verified = createTrustCache<Principal>(JWT_CACHE_SIZE);

  return async (token) => {
    const digest = createHash('sha256').update(token).digest('base64url');
    const cached = verified.get(digest);
    if (cached) return cached;

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ALGORITHMS,
        issuer: opts.issuer,
        ...(opts.audience !== undefined ? { audience: opts.audience } : {}),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw refusal(err);
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) {
      throw new UnauthorizedError(`invalid token: sub must be 1-${MAX_SUBJECT_LENGTH} characters`, true);
    }
    const principal: Principal = Object.freeze({ role: 'user', ownerId: sub, subject: `jwt:${sub}` });
    verified.set(digest, principal, Math.min(Date.now() + JWT_CACHE_MS, payload.exp! * 1000));
    return principal;
  };
}

/**
 * Names why a token was refused, in words a client can act on, without echoing the token. A key set
 * that cannot be fetched is the identity provider's outage, not the client's fault: 503.
 */
function refusal(err: unknown): Error {
  const invalid = (reason: string) => new UnauthorizedError(`invalid token: ${reason}`, true);
  if (err instanceof errors.JWTExpired) return invalid('expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    // jose's reason: 'missing', 'invalid' (not a number, say) or 'check_failed' (the value is wrong).
    if (err.reason === 'missing') return invalid(`the ${err.claim} claim is missing`);
    if (err.reason === 'check_failed') {
      if (err.claim === 'iss') return invalid('wrong issuer');
      if (err.claim === 'aud') return invalid('wrong audience');
      if (err.claim === 'nbf') return invalid('not yet valid');
    }
    return invalid(`the ${err.claim} claim is invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid(`algorithm not allowed (${ALGORITHMS.join(' or ')})`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('bad signature');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('no key of the identity provider matches its kid');
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return invalid('malformed');
  }
  // JWKSTimeout, JWKSInvalid, a non-200 answer, or a network error: the key set is out of reach.
  return new IdentityProviderError('the identity provider\'s key set (AUTH_JWKS_URL) could not be fetched; retry later');
}
