// Turns a bearer credential into a principal: the admin key from the environment, an API key made
// through the API, or a JWT from an identity provider. Every refusal of a key reads the same, so a
// 401 never tells whether a key exists, existed or was revoked.
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../errors.ts';
import type { ApiKeyRepository } from './api-key-repository.ts';
import type { JwtVerifier } from './jwt.ts';
import { LOCAL_OWNER, type Principal } from './principal.ts';
import { createTrustCache } from './trust-cache.ts';

/** cbx_ and 32 random bytes in base64url: 256 bits. */
export const API_KEY_PATTERN = /^cbx_[A-Za-z0-9_-]{43}$/;

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * How long a verified API key is trusted without asking the database again. A key deleted on this
 * instance is forgotten at once; on other instances it stops working within this time, which must
 * stay under the contract's 5 s. Caching spares a query per request (see the auth benchmark).
 */
export const API_KEY_CACHE_MS = 2_000;
const API_KEY_CACHE_SIZE = 10_000;

export interface Authenticator {
  /**
   * The principal behind a credential; throws UnauthorizedError, or IdentityProviderError (503). An
   * API key's lookup that fails because the database is down lets the query's error through, which
   * the error handler answers with 503 (db/database.ts databaseUnavailable()), never 401: the key
   * may well be valid.
   */
  authenticate(credential: string): Promise<Principal>;
  /** Stops a deleted key from working on this instance at once. */
  forgetKey(id: string): void;
}

export interface AuthenticatorDeps {
  adminApiKey: string;
  apiKeys: Pick<ApiKeyRepository, 'findByHash'>;
  /** Undefined: JWTs are refused like any unknown credential. */
  jwt: JwtVerifier | undefined;
}

const INVALID = 'invalid credential';

export function createAuthenticator({ adminApiKey, apiKeys, jwt }: AuthenticatorDeps): Authenticator {
  // Compared as digests with timingSafeEqual: equal lengths, and no early exit to time.
  const adminDigest = createHash('sha256').update(adminApiKey).digest();
  const admin: Principal = Object.freeze({ role: 'admin', ownerId: LOCAL_OWNER, subject: 'admin' });
  // By the key's SHA-256, the same digest the database is searched by.
  const trusted = createTrustCache<Principal>(API_KEY_CACHE_SIZE);
  const subjectOf = (keyId: string) => `key:${keyId}`;

  async function apiKey(credential: string): Promise<Principal> {
    const hash = sha256Hex(credential);
    const cached = trusted.get(hash);
    if (cached) return cached;
    const row = await apiKeys.findByHash(hash);
    if (!row) throw new UnauthorizedError(INVALID);
    const principal: Principal = Object.freeze({ role: row.role, ownerId: row.ownerId, subject: subjectOf(row.id) });
    trusted.set(hash, principal, Date.now() + API_KEY_CACHE_MS);
    return principal;
  }

  return {
    async authenticate(credential) {
      if (timingSafeEqual(createHash('sha256').update(credential).digest(), adminDigest)) return admin;
      if (credential.startsWith('cbx_')) {
        // A malformed key cannot exist, so it costs no query.
        if (!API_KEY_PATTERN.test(credential)) throw new UnauthorizedError(INVALID);
        return apiKey(credential);
      }
      // header.payload.signature, each base64url: anything else is not a JWT.
      if (jwt && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(credential)) return jwt(credential);
      throw new UnauthorizedError(INVALID);
    },

    forgetKey(id) {
      trusted.forget((principal) => principal.subject === subjectOf(id));
    },
  };
}
