// Idempotency-Key on POST /api/chat/{session_id}/message, through HTTP with the real app and the
// suite's database: a retry appends nothing and gets the first answer, another request under the
// same key is refused (422), one still in flight gets 409, keys belong to their owner, a failed
// request frees its key, and keys expire after 24 hours.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIdempotencyKeys } from '../../src/chat/idempotency.ts';
import { idempotencyKeys } from '../../src/db/schema.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ADMIN_KEY = `admin-${randomBytes(24).toString('hex')}`;
let gemini: GeminiServer;
let t: TestApp;

beforeAll(async () => {
  gemini = await startGeminiServer();
  t = await startTestApp({
    LLM_PROVIDER: 'gemini',
    GEMINI_API_KEY: 'gemini-test-key',
    GEMINI_BASE_URL: gemini.url,
    AUTH_MODE: 'required',
    ADMIN_API_KEY: ADMIN_KEY,
    RATE_LIMIT_PER_MINUTE: '10000',
    MESSAGE_RATE_LIMIT_PER_MINUTE: '10000',
  });
});
afterAll(async () => {
  await t?.close();
  await gemini?.close();
});
beforeEach(() => gemini.reset());

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function session(key = ADMIN_KEY): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', headers: auth(key), payload: {} });
  expect(res.statusCode).toBe(201);
  return res.json().session_id as string;
}

function post(id: string, message: string, idempotencyKey: string | undefined, key = ADMIN_KEY) {
  return t.app.inject({
    method: 'POST',
    url: `/api/chat/${id}/message`,
    headers: { ...auth(key), ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
    payload: { message },
  });
}

async function historyLength(id: string, key = ADMIN_KEY): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: `/api/chat/${id}`, headers: auth(key) });
  return (res.json().history as unknown[]).length;
}

const newKey = () => `key-${randomBytes(8).toString('hex')}`;

describe('Idempotency-Key', () => {
  it('answers a retry as the first request did, appending nothing', async () => {
    const id = await session();
    const key = newKey();
    const first = await post(id, 'hello once', key);
    expect(first.statusCode).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const again = await post(id, 'hello once', key);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(gemini.requests).toHaveLength(1);
    expect(await historyLength(id)).toBe(2);

    // Later messages do not change the replayed answer: it is the session as it was after that reply.
    expect((await post(id, 'something else', newKey())).statusCode).toBe(200);
    const later = await post(id, 'hello once', key);
    expect(later.json().history).toEqual(first.json().history);
    expect(later.json().has_more).toBe(false);
    expect(await historyLength(id)).toBe(4);
  });

  it('refuses the same key with another message or another session with a 422, storing nothing', async () => {
    const id = await session();
    const other = await session();
    const key = newKey();
    expect((await post(id, 'the first request', key)).statusCode).toBe(200);

    for (const [sessionId, message] of [
      [id, 'a different message'],
      [other, 'the first request'],
    ] as const) {
      const res = await post(sessionId, message, key);
      expect(res.statusCode).toBe(422);
      expect(res.json().message).toMatch(/Idempotency-Key "key-[0-9a-f]+" was used in the last 24 hours for another request/);
    }
    expect(await historyLength(id)).toBe(2);
    expect(await historyLength(other)).toBe(0);
    expect(gemini.requests).toHaveLength(1);
  });

  it('answers 409 with Retry-After while the first request is in flight, then replays it', async () => {
    const id = await session();
    const key = newKey();
    gemini.nextDelay(800);
    const first = post(id, 'slow one', key);
    while (gemini.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const during = await post(id, 'slow one', key);
    expect(during.statusCode).toBe(409);
    expect(during.headers['retry-after']).toBe('1');
    expect(during.json().message).toMatch(/still in progress/);

    expect((await first).statusCode).toBe(200);
    const after = await post(id, 'slow one', key);
    expect(after.statusCode).toBe(200);
    expect(after.headers['idempotent-replayed']).toBe('true');
    expect(await historyLength(id)).toBe(2);
  });

  it('frees the key when the request fails before anything is stored, so the retry runs afresh', async () => {
    const id = await session();
    const key = newKey();
    gemini.nextError(500);
    expect((await post(id, 'try me', key)).statusCode).toBe(502);
    const retry = await post(id, 'try me', key);
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await historyLength(id)).toBe(2);
  });

  it("scopes keys to their owner: another owner's request under the same key is its own", async () => {
    const make = async (owner: string) => {
      const res = await t.app.inject({ method: 'POST', url: '/api/keys', headers: auth(ADMIN_KEY), payload: { name: owner, role: 'user', owner_id: owner } });
      return res.json().key as string;
    };
    const [alice, bob] = [await make('alice'), await make('bob')];
    const [aliceChat, bobChat] = [await session(alice), await session(bob)];
    const key = newKey();
    const fromAlice = await post(aliceChat, 'same words', key, alice);
    const fromBob = await post(bobChat, 'same words', key, bob);
    expect([fromAlice.statusCode, fromBob.statusCode]).toEqual([200, 200]);
    expect(fromBob.headers['idempotent-replayed']).toBeUndefined();
    expect(fromBob.json().session_id).toBe(bobChat);
    expect(await historyLength(bobChat, bob)).toBe(2);
  });

  it('forgets a key after 24 hours, and the purge deletes expired keys', async () => {
    const id = await session();
    const key = newKey();
    expect((await post(id, 'long ago', key)).statusCode).toBe(200);
    const db = t.product.database.db;
    await db.update(idempotencyKeys).set({ createdAt: sql`now() - interval '25 hours'` });

    // Expired: the key is new again, even for another message.
    const reused = await post(id, 'a new message', key);
    expect(reused.statusCode).toBe(200);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
    expect(await historyLength(id)).toBe(4);

    const stale = newKey();
    expect((await post(id, 'to be purged', stale)).statusCode).toBe(200);
    await db.update(idempotencyKeys).set({ createdAt: sql`now() - interval '25 hours'` }).where(sql`${idempotencyKeys.key} = ${stale}`);
    await createIdempotencyKeys(db, 'unused').purgeExpired();
    const left = await db.select({ key: idempotencyKeys.key }).from(idempotencyKeys);
    expect(left.map((r) => r.key)).toContain(key);
    expect(left.map((r) => r.key)).not.toContain(stale);
  });

  it('answers 404, not a database error, for a session deleted before the key is recorded', async () => {
    // The service checks the session first; this is the moment between that check and the insert.
    const keys = createIdempotencyKeys(t.product.database.db, randomUUID());
    await expect(keys.begin('local', newKey(), '00000000-0000-4000-8000-000000000000', 'gone')).rejects.toThrow(
      /chat session 00000000-0000-4000-8000-000000000000 not found/,
    );
  });

  it('refuses a malformed key with a 400 that names the header, storing nothing', async () => {
    const id = await session();
    const cases: Array<[string, RegExp]> = [
      ['', /headers\/idempotency-key must not be empty/],
      ['x'.repeat(256), /headers\/idempotency-key must NOT have more than 255 characters/],
      ['clé', /headers\/idempotency-key must contain printable ASCII characters only/],
    ];
    for (const [value, message] of cases) {
      const res = await post(id, 'never stored', value);
      expect(res.statusCode, value).toBe(400);
      expect(res.json().message).toMatch(message);
    }
    expect((await post(id, 'the longest key', 'k'.repeat(255))).statusCode).toBe(200);
    expect(await historyLength(id)).toBe(2);
  });
});
