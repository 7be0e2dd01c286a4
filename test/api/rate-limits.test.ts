// The rate limits as a client meets them: RATE_LIMIT_PER_MINUTE on every /api request and
// MESSAGE_RATE_LIMIT_PER_MINUTE on messages, counted per principal or per client address, in
// memory or shared through Redis, and failing open when Redis is away.
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../support/loopback-http.ts';
import { useTestRedis } from '../support/redis.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ADMIN_KEY = `admin-${randomBytes(24).toString('hex')}`;
const required = (env: Record<string, string> = {}) => ({ AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN_KEY, ...env });

/**
 * A new API key, made through the service rather than POST /api/keys so that making it counts
 * against no limit. Each test uses keys of its own: a key's count is its own.
 */
async function newKey(t: TestApp): Promise<string> {
  return (await t.product.app.apiKeys.create({ name: 'rate limit test' })).key;
}

interface As {
  /** A bearer credential; none when undefined. */
  key?: string | undefined;
  /** The client address inject reports (its default is 127.0.0.1). */
  from?: string;
}

function request(t: TestApp, method: 'GET' | 'POST', url: string, as: As = {}, payload?: object) {
  return t.app.inject({
    method,
    url,
    headers: as.key ? { authorization: `Bearer ${as.key}` } : {},
    ...(as.from ? { remoteAddress: as.from } : {}),
    ...(payload ? { payload } : {}),
  });
}
const get = (t: TestApp, url: string, as?: As) => request(t, 'GET', url, as);

/** Sends `n` requests one after another and returns their status codes. */
async function statuses(n: number, send: () => Promise<LightMyRequestResponse>): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) codes.push((await send()).statusCode);
  return codes;
}

const repeat = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

/** What every 429 of our limits carries. */
function expectLimited(res: LightMyRequestResponse, limit: number, variable: string, what: 'requests' | 'messages') {
  expect(res.statusCode).toBe(429);
  expect(res.json()).toEqual({
    statusCode: 429,
    error: 'Too Many Requests',
    message: expect.stringContaining(`${limit} ${what} per minute (${variable})`),
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers['x-ratelimit-limit']).toBe(String(limit));
  expect(res.headers['x-ratelimit-remaining']).toBe('0');
  const reset = Number(res.headers['x-ratelimit-reset']);
  expect(Number.isInteger(reset)).toBe(true);
  expect(reset).toBeGreaterThanOrEqual(0);
  expect(reset).toBeLessThanOrEqual(60);
}

describe('RATE_LIMIT_PER_MINUTE, counted in this process', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(required({ RATE_LIMIT_PER_MINUTE: '5' }));
  });
  afterAll(() => t?.close());

  it('refuses the 6th request of a principal with 429, its headers and the variable to raise', async () => {
    const key = await newKey(t);
    for (let i = 1; i <= 5; i++) {
      const res = await get(t, '/api/personas', { key });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('5');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(5 - i));
    }
    const refused = await get(t, '/api/personas', { key });
    expectLimited(refused, 5, 'RATE_LIMIT_PER_MINUTE', 'requests');
    expect(refused.json().message).toMatch(/retry in \d+ s/);
    // Any /api route, not only the one that used the count up.
    expect((await get(t, '/api/chat', { key })).statusCode).toBe(429);
  });

  it('counts per principal: another key, and the admin key, are not held back by a spent one', async () => {
    const spent = await newKey(t);
    const other = await newKey(t);
    expect(await statuses(6, () => get(t, '/api/personas', { key: spent }))).toEqual([...repeat(5, 200), 429]);
    const res = await get(t, '/api/personas', { key: other });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('4');
    expect((await get(t, '/api/personas', { key: ADMIN_KEY })).statusCode).toBe(200);
  });

  it('counts requests without a valid credential per client address, so a flood of bad ones is limited too', async () => {
    const [a, b] = ['192.0.2.10', '192.0.2.11'];
    // 401s count: the limit is checked before the credential is refused.
    expect(await statuses(5, () => get(t, '/api/personas', { from: a }))).toEqual(repeat(5, 401));
    expectLimited(await get(t, '/api/personas', { from: a }), 5, 'RATE_LIMIT_PER_MINUTE', 'requests');
    // A made-up key from that address is counted by the address too.
    expect((await get(t, '/api/personas', { from: a, key: `cbx_${'A'.repeat(43)}` })).statusCode).toBe(429);
    // Another address has a count of its own.
    expect((await get(t, '/api/personas', { from: b })).statusCode).toBe(401);
    // A valid key from the spent address is counted as its principal, not by the address.
    expect((await get(t, '/api/personas', { from: a, key: await newKey(t) })).statusCode).toBe(200);
  });

  it('limits GET /api/voices, public but under /api, and never /healthz or /audio', async () => {
    const from = '192.0.2.20';
    expect(await statuses(5, () => get(t, '/api/voices', { from }))).toEqual(repeat(5, 200));
    expectLimited(await get(t, '/api/voices', { from }), 5, 'RATE_LIMIT_PER_MINUTE', 'requests');

    for (let i = 0; i < 10; i++) {
      const health = await get(t, '/healthz', { from });
      expect(health.statusCode).toBe(200);
      expect(health.headers['x-ratelimit-limit']).toBeUndefined();
    }

    // A real audio file: a session and a message (2 of the key's 5 requests), then its MP3 more
    // often than any limit allows, from the spent address and with the key.
    const key = await newKey(t);
    const session = (await request(t, 'POST', '/api/chat', { key })).json();
    const posted = await request(t, 'POST', `/api/chat/${session.session_id}/message`, { key }, { message: 'Hello there' });
    expect(posted.statusCode).toBe(200);
    const audioUrl: string = posted.json().history.at(-1).audio_url;
    expect(audioUrl).toMatch(/^\/audio\//);
    for (const as of [...repeat(6, { from }), ...repeat(6, { key })]) {
      const audio = await get(t, audioUrl, as);
      expect(audio.statusCode).toBe(200);
      expect(audio.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('MESSAGE_RATE_LIMIT_PER_MINUTE', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(required({ RATE_LIMIT_PER_MINUTE: '100', MESSAGE_RATE_LIMIT_PER_MINUTE: '2' }));
  });
  afterAll(() => t?.close());

  it('refuses the 3rd message with 429 naming it, stores nothing, and lets other requests through', async () => {
    const key = await newKey(t);
    const created = await request(t, 'POST', '/api/chat', { key });
    expect(created.statusCode).toBe(201);
    expect(created.headers['x-ratelimit-limit']).toBe('100');
    const id = created.json().session_id as string;
    const send = () => request(t, 'POST', `/api/chat/${id}/message`, { key }, { message: 'Hi' });

    // An allowed message shows the tighter of its two limits.
    for (const remaining of ['1', '0']) {
      const res = await send();
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('2');
      expect(res.headers['x-ratelimit-remaining']).toBe(remaining);
    }
    expectLimited(await send(), 2, 'MESSAGE_RATE_LIMIT_PER_MINUTE', 'messages');

    const session = await get(t, `/api/chat/${id}`, { key });
    expect(session.statusCode).toBe(200);
    expect(session.headers['x-ratelimit-limit']).toBe('100');
    // Two messages and their two replies: the refused one left nothing behind.
    expect(session.json().history).toHaveLength(4);
    expect((await get(t, '/api/personas', { key })).statusCode).toBe(200);

    // Counted per principal here too.
    const other = await newKey(t);
    const theirs = (await request(t, 'POST', '/api/chat', { key: other })).json().session_id as string;
    expect((await request(t, 'POST', `/api/chat/${theirs}/message`, { key: other }, { message: 'Hi' })).statusCode).toBe(200);
  });
});

describe('AUTH_MODE=none', () => {
  it('has no limits unless they are set', async () => {
    const t = await startTestApp({ AUTH_MODE: 'none' });
    try {
      expect(t.product.describe().rateLimits).toBe('off');
      for (let i = 0; i < 30; i++) {
        const res = await get(t, '/api/personas');
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    } finally {
      await t.close();
    }
  });

  it('counts per client address when set, since every client shares the one local principal', async () => {
    const t = await startTestApp({ AUTH_MODE: 'none', RATE_LIMIT_PER_MINUTE: '3' });
    try {
      expect(await statuses(4, () => get(t, '/api/personas', { from: '192.0.2.30' }))).toEqual([...repeat(3, 200), 429]);
      expectLimited(await get(t, '/api/personas', { from: '192.0.2.30' }), 3, 'RATE_LIMIT_PER_MINUTE', 'requests');
      expect((await get(t, '/api/personas', { from: '192.0.2.31' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('several instances', () => {
  // Stopped in reverse order: an instance sharing a database closes before the one that opened it.
  const started: TestApp[] = [];
  const start = async (env: Record<string, string>, shareWith?: TestApp) => {
    const t = await startTestApp(env, shareWith ? { shareDatabaseWith: shareWith } : {});
    started.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of started.splice(0).reverse()) await t.close();
  });

  it('without Redis count separately: each instance allows the limit (what the Redis test rules out)', async () => {
    const env = required({ RATE_LIMIT_PER_MINUTE: '3' });
    const one = await start(env);
    const two = await start(env, one);
    expect(one.product.describe().rateLimits).toMatch(/per process$/);
    const key = await newKey(one);
    const codes = await statuses(6, ((i = 0) => () => get([one, two][i++ % 2]!, '/api/personas', { key }))());
    expect(codes).toEqual(repeat(6, 200));
    expect((await get(one, '/api/personas', { key })).statusCode).toBe(429);
  });

  describe('sharing one Redis', () => {
    const redis = useTestRedis();

    it('reach the limit at the same count as one instance, whichever instance a request lands on', async () => {
      const env = required({ RATE_LIMIT_PER_MINUTE: '6', REDIS_URL: redis.url });
      const one = await start(env);
      const two = await start(env, one);
      expect(one.product.describe().rateLimits).toMatch(/shared in Redis$/);
      const key = await newKey(one);

      // Alternated: 6 pass in total, and the remaining count goes down across both instances.
      for (let i = 0; i < 6; i++) {
        const res = await get([one, two][i % 2]!, '/api/personas', { key });
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-ratelimit-remaining']).toBe(String(5 - i));
      }
      expectLimited(await get(one, '/api/personas', { key }), 6, 'RATE_LIMIT_PER_MINUTE', 'requests');
      expectLimited(await get(two, '/api/personas', { key }), 6, 'RATE_LIMIT_PER_MINUTE', 'requests');
      // The count is the principal's, on both instances: another key still passes on either.
      const other = await newKey(two);
      expect((await get(one, '/api/personas', { key: other })).statusCode).toBe(200);
      expect((await get(two, '/api/personas', { key: other })).statusCode).toBe(200);
      expect(one.logs.filter((l) => String(l.msg).includes('Redis unreachable'))).toEqual([]);
    });

    it('share the message limit too', async () => {
      const env = required({ RATE_LIMIT_PER_MINUTE: '100', MESSAGE_RATE_LIMIT_PER_MINUTE: '2', REDIS_URL: redis.url });
      const one = await start(env);
      const two = await start(env, one);
      const key = await newKey(one);
      const id = (await request(one, 'POST', '/api/chat', { key })).json().session_id as string;
      const send = (t: TestApp) => request(t, 'POST', `/api/chat/${id}/message`, { key }, { message: 'Hi' });
      expect((await send(one)).statusCode).toBe(200);
      expect((await send(two)).statusCode).toBe(200);
      expectLimited(await send(one), 2, 'MESSAGE_RATE_LIMIT_PER_MINUTE', 'messages');
    });
  });

  it('fail open when Redis is unreachable: requests pass uncounted, promptly, with one warning', async () => {
    const port = await unusedPort();
    const t = await start(required({ RATE_LIMIT_PER_MINUTE: '2', REDIS_URL: `redis://127.0.0.1:${port}` }));
    const key = await newKey(t);
    for (let i = 0; i < 5; i++) {
      const began = performance.now();
      const res = await get(t, '/api/personas', { key });
      // Past the limit of 2 too: nothing is counted while Redis is away.
      expect(res.statusCode).toBe(200);
      // A bound on behaviour, not a benchmark: a request must not wait for Redis to come back
      // (the product gives a command 500 ms), nor for the connect timeout of 2 s.
      expect(performance.now() - began).toBeLessThan(2_000);
    }
    const warnings = t.logs.filter((l) => String(l.msg).startsWith('Redis unreachable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40 });
  });
});
