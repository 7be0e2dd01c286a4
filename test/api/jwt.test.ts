// JWTs from an identity provider, end to end: the real app (AUTH_MODE=required) checks bearer tokens
// with jose against a JWKS served over loopback HTTP by test/support/jwks-server.ts, whose keys the
// tests rotate and whose outages they stage. What is checked is what a client and an operator see:
// status, message, WWW-Authenticate, whose rows a token reaches, and what reached the logs.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportSPKI, jwtVerify, UnsecuredJWT, type JWTPayload } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  epochSeconds,
  generateSigningKey,
  signJwt,
  startJwksServer,
  type JwksServer,
  type TestSigningKey,
} from '../support/jwks-server.ts';
import { JWT_CACHE_MS } from '../../src/access/jwt.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'chat-api';
const ADMIN_KEY = `admin-${randomUUID()}-${randomUUID()}`;

/**
 * Every credential this file sends, and the signature part of every token (the part that must stay
 * secret even if header and payload leak): the log checks look for each of them.
 */
const secrets = new Set<string>([ADMIN_KEY]);
function remember(credential: string): string {
  secrets.add(credential);
  const signature = credential.split('.')[2];
  if (signature) secrets.add(signature);
  return credential;
}

/** A token the app must accept: right issuer and audience, ten minutes left. */
const claims = (sub: string, extra: JWTPayload = {}): JWTPayload => ({
  sub,
  iss: ISSUER,
  aud: AUDIENCE,
  iat: epochSeconds(),
  exp: epochSeconds(600),
  ...extra,
});

const sign = async (key: TestSigningKey, payload: JWTPayload) => remember(await key.sign(payload));

/**
 * The product as deployed with an identity provider. The JWKS refetch cooldown is 0 so that a new kid
 * is looked up at once (production waits 30 s between such lookups). Logs at trace, the most verbose
 * level, and through a logger without the product's redaction paths: if any line at any level
 * carried a credential, the log checks below would see it.
 */
function startApp(idp: JwksServer): Promise<TestApp> {
  return startTestApp(
    {
      AUTH_MODE: 'required',
      ADMIN_API_KEY: ADMIN_KEY,
      AUTH_JWKS_URL: idp.jwksUrl,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    },
    { wiring: { jwksRefetchCooldownMs: 0 }, logLevel: 'trace' },
  );
}

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

const listSessions = (t: TestApp, credential: string) =>
  t.app.inject({ method: 'GET', url: '/api/chat', headers: bearer(credential) });

const createSession = (t: TestApp, credential: string) =>
  t.app.inject({ method: 'POST', url: '/api/chat', headers: bearer(credential) });

/** Neither the body nor any header of an answer quotes the token or its signature. */
function expectNotEchoed(res: LightMyRequestResponse, token: string) {
  const signature = token.split('.')[2];
  for (const text of [res.body, JSON.stringify(res.headers)]) {
    expect(text).not.toContain(token);
    if (signature) expect(text).not.toContain(signature);
  }
}

/** 401 with RFC 6750's invalid_token, naming the reason in the body and the challenge alike. */
async function expectRefused(t: TestApp, token: string, reason: string) {
  const res = await listSessions(t, token);
  expect(res.statusCode).toBe(401);
  expect(res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: `invalid token: ${reason}` });
  expect(res.headers['www-authenticate']).toBe(`Bearer error="invalid_token", error_description="invalid token: ${reason}"`);
  expectNotEchoed(res, token);
}

/** No log line holds a credential of this file, nor the signature of a token. */
function expectNoSecretsLogged(t: TestApp) {
  const lines = t.logs.map((line) => JSON.stringify(line));
  // Not vacuous: the requests were logged, refusals included.
  expect(lines.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(lines.filter((line) => line.includes(secret))).toEqual([]);
  }
}

const sessionIds = (res: LightMyRequestResponse) => (res.json() as Array<{ session_id: string }>).map((s) => s.session_id);

/** Polls until the condition holds (a request reached the fake identity provider, say). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('JWTs from an identity provider', () => {
  let rsa: TestSigningKey;
  let ec: TestSigningKey;
  let idp: JwksServer;
  let t: TestApp;

  beforeAll(async () => {
    rsa = await generateSigningKey('RS256', 'rsa-1');
    ec = await generateSigningKey('ES256', 'ec-1');
    idp = await startJwksServer([rsa, ec]);
    t = await startApp(idp);
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  it('accepts RS256 and ES256 tokens, fetching the key set once, on first use', async () => {
    // Nothing is fetched at startup: an identity provider that is down does not stop the API.
    expect(idp.requests).toHaveLength(0);
    expect((await listSessions(t, await sign(rsa, claims('carol')))).statusCode).toBe(200);
    expect((await listSessions(t, await sign(ec, claims('carol')))).statusCode).toBe(200);
    // Both keys came in the one fetch, and the set is cached.
    expect(idp.requests.map((r) => [r.path, r.answer])).toEqual([['/jwks.json', 'ok']]);
  });

  it("gives each sub its own sessions: a user lists only theirs and cannot read another's", async () => {
    const alice = await sign(rsa, claims('alice'));
    const bob = await sign(ec, claims('bob'));
    const aliceSession = await createSession(t, alice);
    const bobSession = await createSession(t, bob);
    expect([aliceSession.statusCode, bobSession.statusCode]).toEqual([201, 201]);
    const aliceId = aliceSession.json().session_id as string;
    const bobId = bobSession.json().session_id as string;

    expect(sessionIds(await listSessions(t, alice))).toEqual([aliceId]);
    expect(sessionIds(await listSessions(t, bob))).toEqual([bobId]);
    // Another owner's session does not exist as far as bob can tell.
    const peek = await t.app.inject({ method: 'GET', url: `/api/chat/${aliceId}`, headers: bearer(bob) });
    expect(peek.statusCode).toBe(404);
  });

  describe('refuses with 401, naming the reason without echoing the token', () => {
    it('an expired token', async () => {
      await expectRefused(t, await sign(rsa, claims('alice', { iat: epochSeconds(-3600), exp: epochSeconds(-60) })), 'expired');
    });

    it('a token whose nbf is in the future', async () => {
      await expectRefused(t, await sign(rsa, claims('alice', { nbf: epochSeconds(600) })), 'not yet valid');
    });

    it('a token from another issuer', async () => {
      await expectRefused(t, await sign(rsa, claims('alice', { iss: 'https://evil.example.test/' })), 'wrong issuer');
    });

    it('a token for another audience', async () => {
      await expectRefused(t, await sign(ec, claims('alice', { aud: 'another-api' })), 'wrong audience');
    });

    it('a token without an audience, since one is configured', async () => {
      const { aud: _aud, ...withoutAudience } = claims('alice');
      // jose reports a missing aud as a failed aud claim with reason "missing": the message says so.
      await expectRefused(t, await sign(rsa, withoutAudience), 'the aud claim is missing');
    });

    it('an unsecured token (alg: none), before any key is looked up', async () => {
      const fetches = idp.requests.length;
      const token = remember(new UnsecuredJWT(claims('alice')).encode());
      expect(token.endsWith('.')).toBe(true); // header.payload. with an empty signature
      await expectRefused(t, token, 'algorithm not allowed (RS256 or ES256)');
      expect(idp.requests.length).toBe(fetches);
    });

    it('an HS256 token whose HMAC secret is the public RSA key (key confusion)', async () => {
      const fetches = idp.requests.length;
      // The attacker knows the public key in both shapes a naive verifier might use as an HMAC secret.
      const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
      const jwkJson = new TextEncoder().encode(JSON.stringify(rsa.publicJwk));
      for (const secret of [pem, jwkJson]) {
        const token = remember(await signJwt(secret, claims('alice'), { alg: 'HS256', kid: rsa.kid }));
        // A well-made forgery: a verifier that trusted the token's alg would accept it.
        await expect(jwtVerify(token, secret, { algorithms: ['HS256'] })).resolves.toMatchObject({ payload: { sub: 'alice' } });
        await expectRefused(t, token, 'algorithm not allowed (RS256 or ES256)');
      }
      // The allow-list refuses it before the key set is consulted.
      expect(idp.requests.length).toBe(fetches);
    });

    it('a token signed by a key that is not the identity provider\'s, carrying a known kid', async () => {
      const impostor = await generateSigningKey('RS256', rsa.kid);
      await expectRefused(t, await sign(impostor, claims('alice')), 'bad signature');
    });

    it('a real token whose payload was changed', async () => {
      const [header, , signature] = (await sign(rsa, claims('alice'))).split('.');
      const forged = Buffer.from(JSON.stringify(claims('bob'))).toString('base64url');
      await expectRefused(t, remember(`${header}.${forged}.${signature}`), 'bad signature');
    });

    it('a token whose kid the identity provider does not publish, after looking the set up again', async () => {
      const fetches = idp.requests.length;
      const stranger = await generateSigningKey('RS256', 'rsa-unknown');
      await expectRefused(t, await sign(stranger, claims('alice')), 'no key of the identity provider matches its kid');
      // An unknown kid may mean a rotation: the set was fetched once more before refusing.
      expect(idp.requests.length).toBe(fetches + 1);
    });

    it('a token without sub, or with an empty or over-long one', async () => {
      const { sub: _sub, ...withoutSub } = claims('alice');
      await expectRefused(t, await sign(rsa, withoutSub), 'the sub claim is missing');
      await expectRefused(t, await sign(rsa, claims('')), 'sub must be 1-200 characters');
      await expectRefused(t, await sign(rsa, claims('x'.repeat(201))), 'sub must be 1-200 characters');
      // 200 characters is the most an owner_id holds, and it is accepted.
      expect((await listSessions(t, await sign(rsa, claims('x'.repeat(200))))).statusCode).toBe(200);
    });

    it('a token without exp', async () => {
      const { exp: _exp, ...withoutExp } = claims('alice');
      await expectRefused(t, await sign(ec, withoutExp), 'the exp claim is missing');
    });

    it('a JWT-shaped string that is not a JWT', async () => {
      await expectRefused(t, remember('bm90.YS1qd3Q.c2lnbmF0dXJl'), 'malformed');
    });

    it('garbage after "Bearer": an unknown credential, not a token problem', async () => {
      const garbage = remember(`garbage-${randomUUID()}`);
      const res = await listSessions(t, garbage);
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe('invalid credential');
      // Not a JWT, so RFC 6750's invalid_token does not apply: the bare scheme.
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expectNotEchoed(res, garbage);

      const empty = await t.app.inject({ method: 'GET', url: '/api/chat', headers: { authorization: 'Bearer ' } });
      expect(empty.statusCode).toBe(401);
      expect(empty.json().message).toBe("malformed Authorization header: send 'Bearer <API key or token>'");
    });
  });

  it('keeps the admin key and API keys working, and JWT users away from admin routes', async () => {
    expect((await listSessions(t, ADMIN_KEY)).statusCode).toBe(200);
    const made = await t.app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: bearer(ADMIN_KEY),
      payload: { name: 'a service', role: 'user', owner_id: 'service-1' },
    });
    expect(made.statusCode).toBe(201);
    const apiKey = remember(made.json().key as string);

    const session = await createSession(t, apiKey);
    expect(session.statusCode).toBe(201);
    expect(sessionIds(await listSessions(t, apiKey))).toEqual([session.json().session_id]);

    // A JWT's principal is always a user: key management needs an admin credential.
    const keysAsUser = await t.app.inject({ method: 'GET', url: '/api/keys', headers: bearer(await sign(rsa, claims('alice'))) });
    expect(keysAsUser.statusCode).toBe(403);
  });

  // Last in this block, so that it sees the logs of every request above.
  it('logs no token, no signature and no key, at any level', () => {
    expect(t.logs.some((line) => (line.res as { statusCode?: number } | undefined)?.statusCode === 401)).toBe(true);
    expectNoSecretsLogged(t);
  });
});

describe('key rotation at the identity provider', () => {
  let kid1: TestSigningKey;
  let kid2: TestSigningKey;
  let idp: JwksServer;
  let t: TestApp;

  beforeAll(async () => {
    kid1 = await generateSigningKey('RS256', 'kid-1');
    kid2 = await generateSigningKey('RS256', 'kid-2');
    idp = await startJwksServer([kid1]);
    t = await startApp(idp);
    // A first request, so that the timed steps below do not include the app's first query.
    expect((await listSessions(t, ADMIN_KEY)).statusCode).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  it('accepts a new kid at once, and an old token until it expires', async () => {
    // A token of the old key with a short life: exp is in whole seconds, so 3 s means 2 to 3 s.
    const exp = epochSeconds(3);
    const oldToken = await sign(kid1, claims('rotating-user', { exp }));
    expect((await listSessions(t, oldToken)).statusCode).toBe(200);
    expect(idp.requests).toHaveLength(1);

    // The identity provider publishes kid2 and starts signing with it. The verifier has never seen
    // kid2, so it reads the set again rather than refusing.
    idp.addKey(kid2);
    const newToken = await sign(kid2, claims('rotating-user'));
    expect((await listSessions(t, newToken)).statusCode).toBe(200);
    expect(idp.requests).toHaveLength(2);

    // Tokens issued before the rotation still work (kid1 is still published, as a provider keeps
    // an old key while its tokens live) ...
    expect((await listSessions(t, oldToken)).statusCode).toBe(200);
    // ... until they expire. jose reads the clock itself, so this is a real wait, past exp.
    await sleep(exp * 1000 - Date.now() + 100);
    await expectRefused(t, oldToken, 'expired');
    expect((await listSessions(t, newToken)).statusCode).toBe(200);
    // Known kids were served from the cache all along.
    expect(idp.requests).toHaveLength(2);
  });

  it('stops accepting a retired key once the verifier reads the set again', async () => {
    idp.removeKey(kid1.kid);
    const lateToken = await sign(kid1, claims('rotating-user'));
    // jose reads the set again only for an unknown kid (at most once per cooldown: 30 s in
    // production) or when its copy is 10 minutes old; until then a removed key still verifies.
    expect((await listSessions(t, lateToken)).statusCode).toBe(200);

    // A token with a kid the verifier does not know makes it read the set, which drops kid1 ...
    const stranger = await generateSigningKey('RS256', 'kid-unknown');
    await expectRefused(t, await sign(stranger, claims('rotating-user')), 'no key of the identity provider matches its kid');
    // ... and from then on kid1 is unknown: a kid1 token not seen before is refused at once, and
    // one already verified stops working when its trust runs out (JWT_CACHE_MS, 5 s).
    const unseenToken = await sign(kid1, claims('rotating-user', { jti: 'never-sent-before' }));
    await expectRefused(t, unseenToken, 'no key of the identity provider matches its kid');
    const retiredAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - retiredAt < JWT_CACHE_MS + 1_000) {
      await sleep(250);
      status = (await listSessions(t, lateToken)).statusCode;
    }
    expect(status).toBe(401);
    expect(Date.now() - retiredAt).toBeLessThanOrEqual(JWT_CACHE_MS + 500);
    await expectRefused(t, lateToken, 'no key of the identity provider matches its kid');
    expect((await listSessions(t, await sign(kid2, claims('rotating-user')))).statusCode).toBe(200);
  }, 15_000);

  it('logs no token, no signature and no key', () => {
    expectNoSecretsLogged(t);
  });
});

describe('an identity provider outage', () => {
  let key: TestSigningKey;
  let idp: JwksServer;
  // A fresh app: nothing cached, so every JWT needs the key set.
  let t: TestApp;

  beforeAll(async () => {
    key = await generateSigningKey('ES256', 'outage-1');
    idp = await startJwksServer([key]);
    idp.fail('status500');
    // The app starts although its identity provider is down (the key set is fetched on first use).
    t = await startApp(idp);
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  /** 503 naming AUTH_JWKS_URL, the variable an operator checks, without echoing the token. */
  function expectOutage(res: LightMyRequestResponse, token: string) {
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: "the identity provider's key set (AUTH_JWKS_URL) could not be fetched; retry later",
    });
    // Not the client's fault: no invalid_token challenge.
    expect(res.headers['www-authenticate']).toBeUndefined();
    expectNotEchoed(res, token);
  }

  /** The API keeps answering what does not need the identity provider. */
  async function expectApiUp() {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await createSession(t, ADMIN_KEY)).statusCode).toBe(201);
    expect((await listSessions(t, ADMIN_KEY)).statusCode).toBe(200);
  }

  it('answers 503 naming AUTH_JWKS_URL when the key set answers 500, and stays up', async () => {
    const token = await sign(key, claims('dana'));
    expectOutage(await listSessions(t, token), token);
    expect(idp.requests.map((r) => r.answer)).toEqual(['status500']);
    await expectApiUp();
    // The operator is told, in the app's words (no upstream URL or body).
    expect(t.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'upstream failure',
        upstream: { name: 'IdentityProviderError', message: expect.stringContaining('AUTH_JWKS_URL') },
      }),
    );
  });

  it('answers 503 when the connection is closed without an answer', async () => {
    idp.fail('close');
    const token = await sign(key, claims('dana'));
    expectOutage(await listSessions(t, token), token);
    expect(idp.requests.at(-1)?.answer).toBe('close');
    await expectApiUp();
  });

  it("answers 503 when the key set never answers, after the verifier's 5 s timeout, serving others meanwhile", async () => {
    idp.fail('hang');
    const fetches = idp.requests.length;
    const token = await sign(key, claims('dana'));
    const pending = listSessions(t, token);
    await waitFor(() => idp.requests.length > fetches, 'the verifier to ask the identity provider');
    // While that request waits on the identity provider, the rest of the API answers.
    await expectApiUp();
    expectOutage(await pending, token);
  });

  it('accepts tokens again as soon as the identity provider is back: a failure is not cached', async () => {
    idp.recover();
    const token = await sign(key, claims('dana'));
    expect((await listSessions(t, token)).statusCode).toBe(200);
    expect(idp.requests.at(-1)?.answer).toBe('ok');
  });

  it('logs no token, no signature and no key', () => {
    expectNoSecretsLogged(t);
  });
});
