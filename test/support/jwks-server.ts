/**
 * A loopback stand-in for an identity provider (Cognito, Auth0, Keycloak): it serves a JSON Web Key
 * Set at /jwks.json that a test changes while the app runs, so that the real verifier (jose's
 * createRemoteJWKSet) fetches, caches and refetches it over HTTP as it would in production.
 *
 *   const kid1 = await generateSigningKey('RS256', 'kid-1');
 *   const idp = await startJwksServer([kid1]);          // AUTH_JWKS_URL: idp.jwksUrl
 *   const token = await kid1.sign({ sub: 'alice', iss, aud, exp });
 *   idp.addKey(kid2); idp.removeKey('kid-1');           // a rotation, as the identity provider does it
 *   idp.fail('status500'); idp.recover();               // an outage, and its end
 *   idp.requests.length;                                // how often the verifier fetched the set
 *   await idp.close();                                  // in afterAll
 *
 * Keys are made here with jose, as an identity provider would: a key pair whose public half is
 * published with its kid and alg, and whose private half signs tokens (signJwt, or key.sign).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  type KeyInput,
} from 'jose';
import { closeNow, listenOnLoopback } from './loopback-http.ts';

export type SigningAlgorithm = 'RS256' | 'ES256';

/** A key pair of the identity provider's, with the public JWK it publishes. */
export interface TestSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as published in the JWKS: kty and key material, plus kid, alg and use=sig. */
  publicJwk: JWK;
  /** A compact JWT with these claims, signed by this key, its kid and alg in the header. */
  sign(claims: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
}

export async function generateSigningKey(alg: SigningAlgorithm, kid: string): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk,
    sign: (claims, header) => signJwt(privateKey, claims, { alg, kid, ...header }),
  };
}

/**
 * Signs claims as given (exp, nbf and iat are numbers of seconds: no defaults are added, so a test
 * can leave any claim out). The header is what the caller says, so a test can lie in it: a known kid
 * on a foreign key, or HS256 with a public key as the HMAC secret.
 */
export function signJwt(
  key: KeyInput,
  claims: JWTPayload,
  header: Partial<JWTHeaderParameters> & { alg: string },
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', ...header }).sign(key);
}

/** Seconds since the epoch, the unit of exp, nbf and iat; `offsetSeconds` from now. */
export const epochSeconds = (offsetSeconds = 0) => Math.floor(Date.now() / 1000) + offsetSeconds;

/**
 * How the server fails until recover():
 * - status500: answers 500 with a JSON error body;
 * - hang: reads the request and never answers (the verifier's own timeout has to end it);
 * - close: destroys the connection without an answer, as a crashed proxy would.
 */
export type JwksFailure = 'status500' | 'hang' | 'close';

export interface RecordedJwksRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** How the server answered it: 'ok', 'not-found', or the failure in force. */
  answer: 'ok' | 'not-found' | JwksFailure;
}

export interface JwksServer {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** The key set's URL, for AUTH_JWKS_URL: origin + /jwks.json */
  jwksUrl: string;
  /** Every request received, oldest first (also those that were failed on purpose). */
  readonly requests: RecordedJwksRequest[];
  /** The JWKs served now, in order. */
  keys(): JWK[];
  /** Publishes a key (a rotation's new key); replaces a published key with the same kid. */
  addKey(key: TestSigningKey | JWK): void;
  /** Stops publishing the key with this kid (a rotation's retired key). */
  removeKey(kid: string): void;
  /** Every request fails this way until recover(). */
  fail(failure: JwksFailure): void;
  /** Serves the key set again. */
  recover(): void;
  close(): Promise<void>;
}

export const JWKS_PATH = '/jwks.json';

export async function startJwksServer(initialKeys: Array<TestSigningKey | JWK> = []): Promise<JwksServer> {
  const published: JWK[] = [];
  const requests: RecordedJwksRequest[] = [];
  let failure: JwksFailure | undefined;
  // Hanging answers are ended by close(), so the port is freed at once.
  const hanging = new Set<ServerResponse>();

  const jwkOf = (key: TestSigningKey | JWK): JWK => ('publicJwk' in key ? key.publicJwk : key);
  const addKey = (key: TestSigningKey | JWK) => {
    const jwk = jwkOf(key);
    const at = published.findIndex((k) => k.kid !== undefined && k.kid === jwk.kid);
    if (at >= 0) published[at] = jwk;
    else published.push(jwk);
  };
  for (const key of initialKeys) addKey(key);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const record: RecordedJwksRequest = { method: req.method ?? 'GET', path, headers: req.headers, answer: 'ok' };
    requests.push(record);
    // The body of a GET is empty; drain it anyway so a keep-alive connection stays usable.
    req.resume();

    if (failure) {
      record.answer = failure;
      if (failure === 'close') return void req.socket.destroy();
      if (failure === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: 'internal_error', error_description: 'fake identity provider outage' }));
    }
    if (req.method !== 'GET' || path !== JWKS_PATH) {
      record.answer = 'not-found';
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: 'not_found' }));
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({ keys: published }));
  });

  const origin = await listenOnLoopback(server);
  return {
    origin,
    jwksUrl: `${origin}${JWKS_PATH}`,
    requests,
    keys: () => structuredClone(published),
    addKey,
    removeKey: (kid) => {
      const at = published.findIndex((k) => k.kid === kid);
      if (at < 0) throw new Error(`no published key has kid ${kid}`);
      published.splice(at, 1);
    },
    fail: (mode) => {
      failure = mode;
    },
    recover: () => {
      failure = undefined;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      hanging.clear();
      await closeNow(server);
    },
  };
}
