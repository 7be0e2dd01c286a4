// API keys: made, listed and deleted by admins; stored as their SHA-256 only; refused everywhere
// within 5 s of their deletion; never logged.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ADMIN_KEY = `admin-${randomBytes(24).toString('hex')}`;
// Limits have tests of their own; here they must not get in the way of polling.
const ENV = { AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_PER_MINUTE: '10000' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

let t: TestApp;
/** Every key this file made, for the check that none was logged. */
const madeKeys: string[] = [];
/** Instances started by single tests, whose logs are checked too. */
const otherApps: TestApp[] = [];

beforeAll(async () => {
  // Every level, so that the check that no key is logged covers the chattiest one too.
  t = await startTestApp(ENV, { logLevel: 'trace' });
});
afterAll(() => t?.close());

interface Send {
  key?: string;
  from?: string;
  payload?: object;
}
function call(app: TestApp, method: 'GET' | 'POST' | 'DELETE', url: string, { key, from, payload }: Send = {}) {
  return app.app.inject({
    method,
    url,
    headers: key ? { authorization: `Bearer ${key}` } : {},
    ...(from ? { remoteAddress: from } : {}),
    ...(payload ? { payload } : {}),
  });
}

async function createKey(body: object, as: string = ADMIN_KEY, app: TestApp = t) {
  const res = await call(app, 'POST', '/api/keys', { key: as, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  const created = res.json();
  madeKeys.push(created.key);
  return created as { id: string; key: string; key_prefix: string; role: string; owner_id: string; name: string; created_at: string };
}
const listKeys = async () => (await call(t, 'GET', '/api/keys', { key: ADMIN_KEY })).json() as Array<Record<string, unknown>>;

describe('POST, GET and DELETE /api/keys', () => {
  it('makes a key of 256 random bits, shown once, a user of a new owner by default', async () => {
    const created = await createKey({ name: 'mobile app' });
    expect(Object.keys(created).sort()).toEqual(['created_at', 'id', 'key', 'key_prefix', 'name', 'owner_id', 'role']);
    // cbx_ and 43 base64url characters: 256 bits (the contract asks for at least 160).
    expect(created.key).toMatch(/^cbx_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.key_prefix)).toBe(true);
    expect(created.key_prefix.length).toBeGreaterThan('cbx_'.length);
    expect(created.key_prefix.length).toBeLessThan(created.key.length);
    expect(created).toMatchObject({ name: 'mobile app', role: 'user' });
    expect(created.id).toMatch(UUID);
    expect(created.owner_id).toMatch(UUID);
    expect(new Date(created.created_at).toISOString()).toBe(created.created_at);

    // Another key: other random bits, another owner.
    const second = await createKey({ name: 'mobile app' });
    expect(second.key).not.toBe(created.key);
    expect(second.owner_id).not.toBe(created.owner_id);

    // The new key works at once.
    expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(200);
  });

  it('takes a role and an owner_id', async () => {
    const created = await createKey({ name: 'ops', role: 'admin', owner_id: 'user-42' });
    expect(created).toMatchObject({ name: 'ops', role: 'admin', owner_id: 'user-42' });
  });

  it('lists keys newest first by their prefix, never with the key itself', async () => {
    const older = await createKey({ name: 'older' });
    const newer = await createKey({ name: 'newer' });
    const res = await call(t, 'GET', '/api/keys', { key: ADMIN_KEY });
    expect(res.statusCode).toBe(200);
    const list = res.json() as Array<Record<string, unknown>>;
    const { key: _olderKey, ...olderListed } = older;
    expect(list).toContainEqual(olderListed);
    for (const entry of list) {
      expect(Object.keys(entry).sort()).toEqual(['created_at', 'id', 'key_prefix', 'name', 'owner_id', 'role']);
    }
    const ids = list.map((k) => k.id);
    expect(ids.indexOf(newer.id)).toBeLessThan(ids.indexOf(older.id));
    for (const key of madeKeys) expect(res.body).not.toContain(key);
  });

  it('deletes a key: 204, then 404, and it is gone from the list and refused', async () => {
    const created = await createKey({ name: 'short-lived' });
    expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(200);

    const deleted = await call(t, 'DELETE', `/api/keys/${created.id}`, { key: ADMIN_KEY });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    const again = await call(t, 'DELETE', `/api/keys/${created.id}`, { key: ADMIN_KEY });
    expect(again.statusCode).toBe(404);
    expect(again.json().message).toBe(`API key ${created.id} not found`);
    expect((await listKeys()).map((k) => k.id)).not.toContain(created.id);
    // Refused at once on this instance, although it had just been verified (and cached).
    expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(401);

    expect((await call(t, 'DELETE', '/api/keys/not-a-uuid', { key: ADMIN_KEY })).statusCode).toBe(400);
  });

  it.each([
    [{}, /^body must have the field "name"$/],
    [{ name: '' }, /^body\/name must not be empty/],
    [{ name: '   ' }, /^body\/name must not be empty or whitespace only$/],
    [{ name: 'k'.repeat(101) }, /^body\/name must NOT have more than 100 characters$/],
    [{ name: 'k', role: 'root' }, /^body\/role must be one of "admin", "user"$/],
    [{ name: 'k', owner_id: 'o'.repeat(201) }, /^body\/owner_id must NOT have more than 200 characters$/],
    // A control character is refused for what it is, not as a blank.
    [{ name: 'k', owner_id: 'line\nbreak' }, /^body\/owner_id must not contain control characters$/],
    [{ name: 'k', scope: 'all' }, /^body has an unknown field "scope"$/],
  ])('refuses %j with a 400 naming the field, and makes no key', async (body, message) => {
    const before = (await listKeys()).length;
    const res = await call(t, 'POST', '/api/keys', { key: ADMIN_KEY, payload: body });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(message) });
    expect((await listKeys()).length).toBe(before);
  });
});

describe('what the database holds', () => {
  it('only the SHA-256 of a key: no column holds the key', async () => {
    const created = await createKey({ name: 'stored', owner_id: 'owner-stored' });
    const db = t.product.database.db;
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row).toBeDefined();
    expect(row!.keyHash).toBe(sha256Hex(created.key));
    expect(row!.keyPrefix).toBe(created.key_prefix);

    // Every column of every row, read with SQL rather than through the schema, so that a column
    // the schema does not know about could not hide the key either.
    const raw = await db.execute(sql`select * from api_keys`);
    const rows = (raw as unknown as { rows: Array<Record<string, unknown>> }).rows;
    expect(rows.length).toBe((await listKeys()).length);
    expect(Object.keys(rows[0]!).sort()).toEqual(['created_at', 'id', 'key_hash', 'key_prefix', 'name', 'owner_id', 'role']);
    const stored = JSON.stringify(rows);
    for (const key of madeKeys) {
      expect(stored).not.toContain(key);
      // Nor the random part alone (the key minus its cbx_), in any column.
      expect(stored).not.toContain(key.slice('cbx_'.length));
    }
  });
});

describe('who may manage keys', () => {
  it('refuses a user key with 403 on every /api/keys route', async () => {
    const user = await createKey({ name: 'a user' });
    const victim = await createKey({ name: 'someone else' });
    for (const [method, url, payload] of [
      ['POST', '/api/keys', { name: 'escalate', role: 'admin' }],
      ['GET', '/api/keys'],
      ['DELETE', `/api/keys/${victim.id}`],
    ] as const) {
      const res = await call(t, method, url, { key: user.key, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().message).toBe(`${method} ${url.replace(victim.id, ':id')} needs an admin credential`);
    }
    // The user's attempts changed nothing.
    const ids = (await listKeys()).map((k) => k.id);
    expect(ids).toContain(victim.id);
    expect((await listKeys()).filter((k) => k.name === 'escalate')).toEqual([]);
  });

  it('lets an admin API key make, list and delete keys', async () => {
    const admin = await createKey({ name: 'an admin', role: 'admin' });
    const made = await createKey({ name: 'made by an API key' }, admin.key);
    expect(made.role).toBe('user');
    expect((await call(t, 'GET', '/api/keys', { key: admin.key })).statusCode).toBe(200);
    expect((await call(t, 'DELETE', `/api/keys/${made.id}`, { key: admin.key })).statusCode).toBe(204);
  });
});

describe('revocation', () => {
  it('refuses a deleted key at once on its instance and within 5 s on another that had cached it', async () => {
    const other = await startTestApp(ENV, { shareDatabaseWith: t, logLevel: 'trace' });
    otherApps.push(other);
    try {
      const created = await createKey({ name: 'to revoke' });
      // Both instances verify the key, and so cache it.
      expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(200);
      expect((await call(other, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(200);

      expect((await call(t, 'DELETE', `/api/keys/${created.id}`, { key: ADMIN_KEY })).statusCode).toBe(204);
      const deletedAt = performance.now();
      expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(401);

      // The other instance learns of it only when its cache entry expires. A bound on behaviour
      // (the contract's 5 s), polled, not a measure of speed.
      const seen: number[] = [];
      let refusedAfter: number | undefined;
      while (performance.now() - deletedAt < 5_000) {
        const status = (await call(other, 'GET', '/api/personas', { key: created.key })).statusCode;
        seen.push(status);
        if (status === 401) {
          refusedAfter = performance.now() - deletedAt;
          break;
        }
        await sleep(150);
      }
      expect(refusedAfter, `still accepted 5 s after deletion; answers: ${seen.join(' ')}`).toBeDefined();
      expect(refusedAfter!).toBeLessThan(5_000);
      // Until then it could only have been accepted as before, never anything else.
      expect(new Set(seen.slice(0, -1))).toEqual(new Set(seen.length > 1 ? [200] : []));
      // And it stays refused, on both.
      expect((await call(other, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(401);
      expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('answers a deleted key exactly as a key that never existed', async () => {
    const created = await createKey({ name: 'gone' });
    expect((await call(t, 'GET', '/api/personas', { key: created.key })).statusCode).toBe(200);
    expect((await call(t, 'DELETE', `/api/keys/${created.id}`, { key: ADMIN_KEY })).statusCode).toBe(204);
    const neverExisted = `cbx_${randomBytes(32).toString('base64url')}`;

    // Refused requests are counted per client address: each comes from an address of its own, so
    // that the x-ratelimit headers start from the same count.
    const deleted = await call(t, 'GET', '/api/personas', { key: created.key, from: '198.51.100.1' });
    const unknown = await call(t, 'GET', '/api/personas', { key: neverExisted, from: '198.51.100.2' });
    expect(deleted.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(deleted.body).toBe(unknown.body);
    expect(comparable(deleted)).toEqual(comparable(unknown));
    expect(deleted.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'invalid credential' });
  });
});

/** The headers that must not tell two answers apart: all but the request id and the date. */
function comparable(res: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...rest } = res.headers;
  return rest;
}

describe('logs', () => {
  it('never carry a key, an admin key or the admin key of the environment', async () => {
    // Requests that fail in several ways, so that error paths have logged too.
    const created = await createKey({ name: 'logged?' });
    await call(t, 'GET', '/api/keys', { key: created.key });
    await call(t, 'POST', '/api/chat/00000000-0000-4000-8000-000000000000/message', { key: created.key, payload: { message: 'hi' } });
    await call(t, 'GET', '/api/personas', { key: `${created.key}x` });
    await call(t, 'DELETE', `/api/keys/${created.id}`, { key: ADMIN_KEY });
    await call(t, 'GET', '/api/personas', { key: created.key });

    expect(t.logs.length).toBeGreaterThan(0);
    for (const app of [t, ...otherApps]) {
      const logged = JSON.stringify(app.logs);
      expect(logged).not.toContain(ADMIN_KEY);
      for (const key of madeKeys) expect(logged).not.toContain(key);
    }
  });
});
