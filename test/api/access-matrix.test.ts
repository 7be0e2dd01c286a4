// The access matrix: every route of the app, called through HTTP as six kinds of caller, each with
// the status it must get. The cells are made from the app's own route table (app.accessRules), so a
// route added later without a row here fails its test. Owner A marks everything it makes, and every
// body that anyone but A receives is searched for A's marker and A's ids.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Access, AccessRule } from '../../src/http/access.ts';
import { startTestApp } from '../support/test-app.ts';

/** The columns. revoked: A's user key after DELETE /api/keys/{id}; badJwt: a well-formed JWT nobody trusts. */
type Caller = 'owner' | 'other' | 'admin' | 'revoked' | 'badJwt' | 'nobody';
const CALLERS: Caller[] = ['owner', 'other', 'admin', 'revoked', 'badJwt', 'nobody'];

/** A status, or 'served': any answer but a refusal (401, 403) or a failure (5xx). */
type Expected = number | 'served';
type Statuses = Record<Caller, Expected>;

/** The three callers without a valid credential: 401 on every route that is not public. */
const NO_CREDENTIAL = { revoked: 401, badJwt: 401, nobody: 401 } as const;
const everyone = (expected: Expected): Statuses => ({
  owner: expected,
  other: expected,
  admin: expected,
  revoked: expected,
  badJwt: expected,
  nobody: expected,
});

interface Call {
  url: string;
  payload?: object;
  /** What the call would change, read by `as` before and after: a refused call must leave it as it was. */
  unchanged?: { url: string; as: Caller };
}

interface Row {
  access: Access;
  /** The request. Made right before each cell, so destructive routes get a fresh resource of A's every time. */
  call: () => Promise<Call> | Call;
  expect: Statuses;
}

// One row per `${method} ${url}` of app.accessRules. A GET row covers the HEAD route Fastify adds for
// it (withHeads). Id-bearing routes act on A's resources: the owner succeeds; B and the admin get the
// 404 of a thing that does not exist (admins do not see other owners' sessions or private personas).
const MATRIX: Record<string, Row> = withHeads({
  'GET /healthz': { access: 'public', call: () => ({ url: '/healthz' }), expect: everyone(200) },
  // Readiness: public like /healthz, for load balancers; 200 while the database answers.
  'GET /readyz': { access: 'public', call: () => ({ url: '/readyz' }), expect: everyone(200) },
  'GET /api/voices': { access: 'public', call: () => ({ url: '/api/voices' }), expect: everyone(200) },
  // The web page and its files: the page asks for a key itself when the API answers 401.
  'GET /': { access: 'public', call: () => ({ url: '/' }), expect: everyone(200) },
  'GET /favicon.svg': { access: 'public', call: () => ({ url: '/favicon.svg' }), expect: everyone(200) },
  'GET /assets/*': { access: 'public', call: () => ({ url: `/assets/${pageScript()}` }), expect: everyone(200) },
  // Public because <audio src> cannot send a credential; each voice is synthesized once, ever.
  'GET /api/voices/:voice_id/preview': { access: 'public', call: () => ({ url: '/api/voices/Joanna/preview' }), expect: everyone(302) },
  // Public because the key is a SHA-256 nobody can guess: here, the audio of A's reply.
  'GET /audio/*': { access: 'public', call: () => ({ url: fixtures.audioPath }), expect: everyone(200) },

  'POST /api/keys': {
    access: 'admin',
    call: () => ({ url: '/api/keys', payload: { name: 'made by the matrix', owner_id: 'owner-c' } }),
    expect: { owner: 403, other: 403, admin: 201, ...NO_CREDENTIAL },
  },
  'GET /api/keys': {
    access: 'admin',
    call: () => ({ url: '/api/keys' }),
    expect: { owner: 403, other: 403, admin: 200, ...NO_CREDENTIAL },
  },
  // Operators' counts and timings of every route: admins only, like the keys.
  'GET /metrics': {
    access: 'admin',
    call: () => ({ url: '/metrics' }),
    expect: { owner: 403, other: 403, admin: 200, ...NO_CREDENTIAL },
  },
  'DELETE /api/keys/:id': {
    access: 'admin',
    call: async () => ({ url: `/api/keys/${await freshKeyOfA()}`, unchanged: { url: '/api/keys', as: 'admin' } }),
    expect: { owner: 403, other: 403, admin: 204, ...NO_CREDENTIAL },
  },

  'POST /api/personas': {
    access: 'authenticated',
    call: () => ({ url: '/api/personas', payload: { name: 'made by the matrix' } }),
    expect: { owner: 201, other: 201, admin: 201, ...NO_CREDENTIAL },
  },
  'GET /api/personas': {
    access: 'authenticated',
    call: () => ({ url: '/api/personas' }),
    expect: { owner: 200, other: 200, admin: 200, ...NO_CREDENTIAL },
  },
  'GET /api/personas/:id': {
    access: 'authenticated',
    call: () => ({ url: `/api/personas/${fixtures.persona}` }),
    expect: { owner: 200, other: 404, admin: 404, ...NO_CREDENTIAL },
  },
  'PATCH /api/personas/:id': {
    access: 'authenticated',
    call: async () => {
      const url = `/api/personas/${await freshPersonaOfA()}`;
      return { url, payload: { name: 'renamed by the matrix' }, unchanged: { url, as: 'owner' } };
    },
    expect: { owner: 200, other: 404, admin: 404, ...NO_CREDENTIAL },
  },
  'DELETE /api/personas/:id': {
    access: 'authenticated',
    call: async () => {
      const url = `/api/personas/${await freshPersonaOfA()}`;
      return { url, unchanged: { url, as: 'owner' } };
    },
    expect: { owner: 204, other: 404, admin: 404, ...NO_CREDENTIAL },
  },

  // On the admin's shared persona, which every caller may use.
  'POST /api/chat': {
    access: 'authenticated',
    call: () => ({ url: '/api/chat', payload: { persona_id: fixtures.sharedPersona } }),
    expect: { owner: 201, other: 201, admin: 201, ...NO_CREDENTIAL },
  },
  'GET /api/chat': {
    access: 'authenticated',
    call: () => ({ url: '/api/chat' }),
    expect: { owner: 200, other: 200, admin: 200, ...NO_CREDENTIAL },
  },
  'GET /api/chat/:session_id': {
    access: 'authenticated',
    call: () => ({ url: `/api/chat/${fixtures.session}` }),
    expect: { owner: 200, other: 404, admin: 404, ...NO_CREDENTIAL },
  },
  'DELETE /api/chat/:session_id': {
    access: 'authenticated',
    call: async () => {
      const url = `/api/chat/${await freshSessionOfA()}`;
      return { url, unchanged: { url, as: 'owner' } };
    },
    expect: { owner: 204, other: 404, admin: 404, ...NO_CREDENTIAL },
  },
  // The owner's cell runs the LLM and speech (about a second); every other cell is refused before them.
  'POST /api/chat/:session_id/message': {
    access: 'authenticated',
    call: async () => {
      const session = `/api/chat/${await freshSessionOfA()}`;
      return { url: `${session}/message`, payload: { message: `${MARK} message` }, unchanged: { url: session, as: 'owner' } };
    },
    expect: { owner: 200, other: 404, admin: 404, ...NO_CREDENTIAL },
  },
});

// The routes of @fastify/swagger-ui share one rule: public, whoever calls.
const isDocsRoute = (url: string) => url === '/docs' || url.startsWith('/docs/');
const docsRow = (url: string): Row => ({
  access: 'public',
  call: () => ({ url: url.replace(/\*$/, 'index.css') }),
  expect: everyone('served'),
});

const rowFor = (rule: AccessRule): Row | undefined =>
  isDocsRoute(rule.url) ? docsRow(rule.url) : MATRIX[`${rule.method} ${rule.url}`];

const ADMIN_API_KEY = 'access-matrix-admin-key-0123456789abcdef'; // 40 characters
const OWNER_A = `owner-a-${randomUUID()}`;
const OWNER_B = `owner-b-${randomUUID()}`;
/** In the name, prompt and messages of everything A makes: no one else may ever read it. */
const MARK = `A-only-${randomUUID()}`;
const MISSING = '00000000-0000-4000-8000-000000000000';

// Started while the file is collected, not in beforeAll: the tests are made from its route table.
const t = await startTestApp({
  HOST: '127.0.0.1',
  AUTH_MODE: 'required',
  ADMIN_API_KEY,
  // High enough never to answer 429 here; the limits have tests of their own.
  RATE_LIMIT_PER_MINUTE: '100000',
  MESSAGE_RATE_LIMIT_PER_MINUTE: '100000',
});
afterAll(() => t.close());

const rules = t.app.accessRules;
const routeName = (rule: AccessRule) => `${rule.method} ${rule.url}`;

/** The bearer credential of each caller, and of a key that never existed (to compare 401s with). */
const credentials: Record<Caller | 'unknownKey', string | undefined> = {
  owner: undefined,
  other: undefined,
  admin: ADMIN_API_KEY,
  revoked: undefined,
  badJwt: undefined,
  nobody: undefined,
  unknownKey: `cbx_${randomBytes(32).toString('base64url')}`,
};

/** A's resources for the calls that only read, and the admin's shared persona. */
const fixtures = { session: '', persona: '', audioPath: '', sharedPersona: '' };

/** The hashed name of the page's script in this run's build. */
const pageScript = () => readdirSync(path.join(inject('webDir'), 'assets')).find((f) => f.endsWith('.js'))!;

/** Everything of A's that nobody else may read: the marker, and the id of everything A made. */
const secretsOfA = new Set<string>([MARK]);

beforeAll(async () => {
  const makeKey = async (owner_id: string) => {
    const res = await send('admin', 'POST', { url: '/api/keys', payload: { name: `key of ${owner_id}`, role: 'user', owner_id } });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; key: string };
  };
  credentials.owner = (await makeKey(OWNER_A)).key;
  credentials.other = (await makeKey(OWNER_B)).key;

  // Used once before it is deleted, so that a cached key is shown to stop working too.
  const revoked = await makeKey(OWNER_A);
  credentials.revoked = revoked.key;
  expect((await send('revoked', 'GET', { url: '/api/chat' })).statusCode).toBe(200);
  expect((await send('admin', 'DELETE', { url: `/api/keys/${revoked.id}` })).statusCode).toBe(204);

  // Well formed and properly signed, but no identity provider is configured, so nobody trusts it.
  const { privateKey } = await generateKeyPair('RS256');
  credentials.badJwt = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'RS256', kid: 'matrix' })
    .setSubject(OWNER_A)
    .setIssuer('https://idp.example')
    .setAudience('chatbox')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);

  const shared = await send('admin', 'POST', { url: '/api/personas', payload: { name: 'Shared guide', system_prompt: 'Be brief.' } });
  fixtures.sharedPersona = shared.json().id;
  fixtures.persona = await freshPersonaOfA();
  fixtures.session = (await send('owner', 'POST', { url: '/api/chat', payload: { persona_id: fixtures.persona } })).json().session_id;
  const posted = await send('owner', 'POST', { url: `/api/chat/${fixtures.session}/message`, payload: { message: `${MARK} hello` } });
  expect(posted.statusCode).toBe(200);
  const audioUrl = posted.json().history[1].audio_url as string;
  expect(audioUrl).toBeTruthy();
  fixtures.audioPath = new URL(audioUrl, 'http://localhost').pathname;
});

describe(`access matrix: ${rules.length} routes × ${CALLERS.length} callers = ${rules.length * CALLERS.length} cells`, () => {
  for (const rule of rules) {
    it(routeName(rule), async () => {
      const row = rowFor(rule);
      if (!row) {
        expect.fail(`route ${routeName(rule)} has no row in the access matrix (MATRIX in test/api/access-matrix.test.ts)`);
      }
      expect(row.access, `${routeName(rule)}: the route's access rule differs from its matrix row`).toBe(rule.access);
      for (const caller of CALLERS) await runCell(rule, row, caller);
    });
  }

  it('has no row for a route the app does not have', () => {
    const routes = new Set(rules.map(routeName));
    expect(Object.keys(MATRIX).filter((route) => !routes.has(route))).toEqual([]);
  });
});

describe('shared personas', () => {
  it("an admin's persona is seen, listed and used by users, and changed or deleted by admins only", async () => {
    const created = await send('admin', 'POST', { url: '/api/personas', payload: { name: 'Team helper', system_prompt: 'Help.' } });
    expect(created.statusCode).toBe(201);
    const persona = created.json();
    expect(persona.shared).toBe(true);
    const url = `/api/personas/${persona.id}`;

    for (const user of ['owner', 'other'] as const) {
      const got = await send(user, 'GET', { url });
      expect(got.statusCode, user).toBe(200);
      expect(got.json()).toEqual(persona);
      expect(ids((await send(user, 'GET', { url: '/api/personas' })).json()), user).toContain(persona.id);

      const session = await send(user, 'POST', { url: '/api/chat', payload: { persona_id: persona.id } });
      expect(session.statusCode, user).toBe(201);
      expect(session.json().persona_id).toBe(persona.id);

      for (const [method, payload] of [['PATCH', { name: 'taken over' }], ['DELETE', undefined]] as const) {
        const refused = await send(user, method, { url, ...(payload ? { payload } : {}) });
        expect(refused.statusCode, `${method} as ${user}`).toBe(403);
        expect(refused.json().message).toBe(`persona ${persona.id} is shared: only an admin may change it`);
      }
    }
    expect((await send('admin', 'GET', { url })).json()).toEqual(persona);

    const renamed = await send('admin', 'PATCH', { url, payload: { name: 'Team helper 2' } });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ id: persona.id, name: 'Team helper 2', shared: true });
    expect((await send('admin', 'DELETE', { url })).statusCode).toBe(204);
    expect((await send('owner', 'GET', { url })).statusCode).toBe(404);
  });

  it("a session on another owner's private persona is refused with the 422 of an unknown persona", async () => {
    for (const caller of ['other', 'admin'] as const) {
      const before = ids((await send(caller, 'GET', { url: '/api/chat' })).json(), 'session_id');
      const res = await send(caller, 'POST', { url: '/api/chat', payload: { persona_id: fixtures.persona } });
      expect(res.statusCode, caller).toBe(422);
      const unknown = await send(caller, 'POST', { url: '/api/chat', payload: { persona_id: MISSING } });
      expect(res.json()).toEqual({ ...unknown.json(), message: unknown.json().message.replace(MISSING, fixtures.persona) });
      expect(ids((await send(caller, 'GET', { url: '/api/chat' })).json(), 'session_id')).toEqual(before);
    }
  });
});

describe('lists', () => {
  it("show another user and the admin nothing of A's, and A all of it", async () => {
    const own = ids((await send('owner', 'GET', { url: '/api/personas' })).json());
    expect(own).toContain(fixtures.persona);
    expect(own).toContain(fixtures.sharedPersona);
    expect(ids((await send('owner', 'GET', { url: '/api/chat' })).json(), 'session_id')).toContain(fixtures.session);

    for (const caller of ['other', 'admin'] as const) {
      const personas = ids((await send(caller, 'GET', { url: '/api/personas' })).json());
      const sessions = ids((await send(caller, 'GET', { url: '/api/chat' })).json(), 'session_id');
      expect(personas, caller).toContain(fixtures.sharedPersona);
      expect(personas.filter((id) => secretsOfA.has(id)), caller).toEqual([]);
      expect(sessions.filter((id) => secretsOfA.has(id)), caller).toEqual([]);
    }
  });
});

describe('401 answers', () => {
  it('never tell a revoked key from one that never existed', async () => {
    for (const call of [{ url: '/api/chat' }, { url: `/api/chat/${fixtures.session}` }, { url: '/api/keys' }]) {
      const revoked = await send('revoked', 'GET', call);
      const unknown = await send('unknownKey', 'GET', call);
      expect(revoked.statusCode).toBe(401);
      expect(revoked.body).toBe(unknown.body);
      expect(revoked.headers['www-authenticate']).toBe(unknown.headers['www-authenticate']);
    }
  });
});

// ---- helpers ----

/** Adds the HEAD route Fastify makes for every GET route, with the GET's row. */
function withHeads(rows: Record<string, Row>): Record<string, Row> {
  const all = { ...rows };
  for (const [route, row] of Object.entries(rows)) if (route.startsWith('GET ')) all[`HEAD ${route.slice(4)}`] = row;
  return all;
}

/** One cell: the call as one caller, its status, its challenge, and what a refused call left alone. */
async function runCell(rule: AccessRule, row: Row, caller: Caller) {
  const where = `${routeName(rule)} as ${caller}`;
  const call = await row.call();
  const read = async () => call.unchanged && (await send(call.unchanged.as, 'GET', { url: call.unchanged.url })).body;
  const before = await read();
  const res = await send(caller, rule.method as HTTPMethods, call);

  const expected = row.expect[caller];
  if (expected === 'served') {
    expect.soft(res.statusCode >= 500 || [401, 403].includes(res.statusCode), `${where}: ${res.statusCode}`).toBe(false);
  } else {
    expect.soft(res.statusCode, `${where}: ${res.body.slice(0, 200)}`).toBe(expected);
  }

  if (res.statusCode === 401) {
    expect.soft(res.headers['www-authenticate'], `${where}: WWW-Authenticate`).toMatch(/^Bearer/);
    // No 401 may tell whether a key existed: the revoked key reads like one that never did.
    if (caller === 'revoked') {
      const unknown = await send('unknownKey', rule.method as HTTPMethods, call);
      expect.soft(res.body, `${where}: unlike the 401 of a key that never existed`).toBe(unknown.body);
    }
  }
  if (res.statusCode >= 400 && call.unchanged) {
    expect.soft(await read(), `${where}: the refused call changed ${call.unchanged.url}`).toBe(before);
  }
}

/**
 * Every request of this file goes through here. Whatever the owner creates becomes one of A's secrets;
 * whatever anyone else receives must contain none of them. An id the caller sent itself may come back
 * (a 404 names the id it did not find), so that one is allowed in that answer.
 */
async function send(caller: Caller | 'unknownKey', method: HTTPMethods, call: Call): Promise<LightMyRequestResponse> {
  const credential = credentials[caller];
  const res = await t.app.inject({
    method,
    url: call.url,
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
    ...(call.payload ? { payload: call.payload } : {}),
  });

  if (caller === 'owner') {
    if (res.statusCode === 201) {
      const made = res.json() as { id?: string; session_id?: string };
      for (const id of [made.id, made.session_id]) if (id) secretsOfA.add(id);
    }
  } else {
    const sent = call.url + JSON.stringify(call.payload ?? {});
    for (const secret of secretsOfA) {
      if (secret !== MARK && sent.includes(secret)) continue;
      expect(res.body.includes(secret), `${method} ${call.url} as ${caller} revealed A's ${secret}: ${res.body.slice(0, 200)}`).toBe(false);
    }
  }
  return res;
}

async function freshPersonaOfA(): Promise<string> {
  const res = await send('owner', 'POST', {
    url: '/api/personas',
    payload: { name: `${MARK} persona`, system_prompt: `${MARK} prompt` },
  });
  expect(res.statusCode).toBe(201);
  expect(res.json().shared).toBe(false);
  return res.json().id;
}

async function freshSessionOfA(): Promise<string> {
  const res = await send('owner', 'POST', { url: '/api/chat', payload: { persona_id: fixtures.persona } });
  expect(res.statusCode).toBe(201);
  return res.json().session_id;
}

/** A throwaway user key of A's, for the cells that delete one. */
async function freshKeyOfA(): Promise<string> {
  const res = await send('admin', 'POST', { url: '/api/keys', payload: { name: 'to delete', role: 'user', owner_id: OWNER_A } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

function ids(list: Array<Record<string, string>>, field = 'id'): string[] {
  return list.map((item) => item[field]!);
}
