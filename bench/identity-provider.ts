// A stand-in for an identity provider (Cognito, Auth0, Keycloak) for the auth scenario: an RS256 key
// pair made with jose when the run starts, its public half served as a JWKS from a loopback HTTP
// server, and tokens signed with the private half. It counts the JWKS fetches, so the run can show
// that the API fetched the key set once and then verified every token from its cache.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { closeNow, listenOnLoopback } from '../test/support/loopback-http.ts';

export const JWT_ALG = 'RS256';

export interface IdentityProvider {
  /** The API's AUTH_JWKS_URL. */
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** The public key as it is served, for verifying in this process too. */
  jwk: JWK;
  /** A token for `sub`, valid for an hour: longer than any run. */
  sign(sub: string): Promise<string>;
  /** GETs of the JWKS so far. */
  fetches(): number;
  close(): Promise<void>;
}

export async function startIdentityProvider(): Promise<IdentityProvider> {
  const { publicKey, privateKey } = await generateKeyPair(JWT_ALG);
  const kid = 'bench-1';
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: JWT_ALG, use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  let fetches = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  const origin = await listenOnLoopback(server);
  const issuer = `${origin}/`;
  const audience = 'chat-bench';
  return {
    jwksUrl: `${origin}/.well-known/jwks.json`,
    issuer,
    audience,
    jwk,
    sign: (sub) =>
      new SignJWT({})
        .setProtectedHeader({ alg: JWT_ALG, kid, typ: 'JWT' })
        .setSubject(sub)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey),
    fetches: () => fetches,
    close: () => closeNow(server),
  };
}
