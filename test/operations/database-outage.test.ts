// The database outage drill: two API processes on a private PostgreSQL server, posts going on, the
// server stopped (pg_ctl stop -m fast) for about 10 s and started again. While it is down, /readyz
// says so with a reason, every request that needs the database answers 503 at once (the API-key
// lookup included) and /healthz stays 200; once it is back, the same processes serve again without a
// restart, their background work (heartbeat, reply audio worker) resumes, and no message that was
// answered 200 is lost.
//
// The server is private (test/support/postgres-server.ts) because stopping the machine's shared one
// would break every other test file. The drill is skipped only when no PostgreSQL binaries exist.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_CACHE_MS } from '../../src/access/credentials.ts';
import { openDatabase } from '../../src/db/database.ts';
import { spawnApi, type ApiChild } from '../support/api-process.ts';
import { findPostgresBinaries, NO_POSTGRES_REASON, startPostgresServer, type PostgresServer } from '../support/postgres-server.ts';

const binaries = findPostgresBinaries();

const ADMIN_API_KEY = 'outage-drill-admin-key-0123456789abcdef';
/** How long PostgreSQL stays down. */
const OUTAGE_MS = 10_000;
/** The contract's fail-fast bound: while the database is down, a request that needs it answers within this. */
const FAIL_FAST_MS = 2_000;
/** How long both instances may take to serve again once PostgreSQL is back (polled; it is about a second). */
const RECOVERY_LIMIT_MS = 15_000;
const UNAVAILABLE = { statusCode: 503, error: 'Service Unavailable', message: 'the database is unavailable; retry later' };

interface Answer {
  status: number;
  body: any;
  ms: number;
}

/** One request, timed. A hang fails the test after 15 s rather than holding it forever. */
async function call(base: string, method: string, url: string, opts: { auth?: string; body?: unknown } = {}): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(opts.auth ? { authorization: `Bearer ${opts.auth}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: performance.now() - started };
}

/** Polls `check` until it is true; fails with `what` after limitMs. Returns the time it took. */
async function until(check: () => Promise<boolean> | boolean, limitMs: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(100);
  }
}

interface Post {
  message: string;
  status: number | 'failed';
  error?: string;
  /** For a 200: where the answer put the message, and the reply it gave. */
  seq?: number;
  reply?: string;
}

/**
 * Posts to one session from each instance, one post after another per instance (100 ms apart, so
 * that 503s do not spin), until stopped. Every outcome is kept.
 */
function startTraffic(urls: string[], sessionId: string) {
  const posts: Post[] = [];
  let running = true;
  const loops = urls.map(async (url, i) => {
    for (let n = 0; running; n++) {
      // Eight words, the post's own last: the reply, cut to 40 characters, quotes only the first few,
      // so that most replies are the same few texts and their audio a cache hit (eSpeak costs about a
      // second a reply on this machine, which would slow the traffic down to a crawl).
      const message = `outage drill traffic from instance ${'ab'[i]} post ${n}`;
      try {
        const res = await call(url, 'POST', `/api/chat/${sessionId}/message`, { auth: ADMIN_API_KEY, body: { message } });
        if (res.status === 200) {
          const history = res.body.history as Array<{ seq: number; content: string }>;
          const at = history.findIndex((m) => m.content === message);
          posts.push({ message, status: 200, seq: history[at]!.seq, reply: history[at + 1]!.content });
        } else {
          posts.push({ message, status: res.status, error: JSON.stringify(res.body) });
        }
      } catch (err) {
        posts.push({ message, status: 'failed', error: (err as Error).message });
      }
      await sleep(100);
    }
  });
  return {
    posts,
    answered: (status: number) => posts.filter((p) => p.status === status).length,
    async stop() {
      running = false;
      await Promise.all(loops);
      return posts;
    },
  };
}

describe.skipIf(!binaries)(
  `the database outage drill (${binaries ? `private PostgreSQL ${binaries.version}` : `skipped: ${NO_POSTGRES_REASON}`})`,
  () => {
    let server: PostgresServer;
    const apis: ApiChild[] = [];
    const dataDirs: string[] = [];

    beforeAll(async () => {
      server = await startPostgresServer();
      // The migrations first, as `npm run db:migrate` would: two processes applying them at once to
      // an empty database would race to create the tables. Then both start at once.
      const migrator = openDatabase({ url: server.url });
      await migrator.migrate().finally(() => migrator.close());
      for (const name of ['a', 'b']) {
        const dataDir = mkdtempSync(path.join(tmpdir(), `outage-${name}-`));
        dataDirs.push(dataDir);
        const api = spawnApi({
          DATABASE_URL: server.url,
          DATA_DIR: dataDir,
          LLM_PROVIDER: 'offline',
          // Short replies: see startTraffic.
          LLM_MAX_OUTPUT_TOKENS: '10',
          // info: spawnApi learns the address from the "Server listening at" line, and the drill reads
          // the background work's warnings.
          LOG_LEVEL: 'info',
          AUTH_MODE: 'required',
          ADMIN_API_KEY,
          // Far above the drill's traffic: the limits have drills of their own.
          RATE_LIMIT_PER_MINUTE: '100000',
          MESSAGE_RATE_LIMIT_PER_MINUTE: '100000',
        });
        apis.push(api);
      }
      await Promise.all(apis.map((api) => api.url));
      // A cluster's initdb and two process starts (tsx, eSpeak): about 8 s.
    }, 60_000);

    afterAll(async () => {
      for (const api of apis) await api.crash();
      await server?.destroy();
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    });

    it('answers 503 at once while PostgreSQL is stopped, and serves again when it is back, with nothing lost and no restart', async () => {
      const urls = await Promise.all(apis.map((api) => api.url));
      const [urlA, urlB] = urls as [string, string];
      const pids = apis.map((api) => api.child.pid);
      const output = () => apis.map((api, i) => `--- instance ${'ab'[i]} ---\n${api.output().slice(-4_000)}`).join('\n');

      for (const url of urls) expect(await call(url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
      const session = await call(urlA, 'POST', '/api/chat', { auth: ADMIN_API_KEY });
      expect(session.status).toBe(201);
      const sessionId = session.body.session_id as string;
      // An API key of the admin's owner, so that it may read the session. Used on A only: B has never
      // looked it up, so B must ask the database for it.
      const made = await call(urlA, 'POST', '/api/keys', { auth: ADMIN_API_KEY, body: { name: 'outage drill', owner_id: 'local' } });
      expect(made.status).toBe(201);
      const apiKey = made.body.key as string;
      expect((await call(urlA, 'GET', `/api/chat/${sessionId}`, { auth: apiKey })).status).toBe(200);
      const keyLastCheckedAt = performance.now();

      // Traffic on both instances, and a few posts answered before the outage.
      const traffic = startTraffic(urls, sessionId);
      await until(() => traffic.answered(200) >= 6, 30_000, 'six posts answered before the outage');

      // ---- The outage ----
      await server.stop();
      const downAt = performance.now();

      for (const [i, url] of urls.entries()) {
        const where = `instance ${'ab'[i]}`;
        const ready = await call(url, 'GET', '/readyz');
        expect(ready.status, where).toBe(503);
        expect(ready.body, where).toEqual({ status: 'unready', reason: expect.stringMatching(/^database unavailable: \S/) });
        expect(ready.ms, where).toBeLessThan(FAIL_FAST_MS);

        const read = await call(url, 'GET', `/api/chat/${sessionId}`, { auth: ADMIN_API_KEY });
        const post = await call(url, 'POST', `/api/chat/${sessionId}/message`, { auth: ADMIN_API_KEY, body: { message: 'during the outage' } });
        for (const [name, answer] of [['GET session', read], ['POST message', post]] as const) {
          expect(answer.status, `${where}: ${name}`).toBe(503);
          expect(answer.body, `${where}: ${name}`).toEqual(UNAVAILABLE);
          expect(answer.ms, `${where}: ${name}`).toBeLessThan(FAIL_FAST_MS);
        }
        const alive = await call(url, 'GET', '/healthz');
        expect(alive, where).toMatchObject({ status: 200, body: { status: 'ok' } });
      }

      // The API key: once A's trust in it (API_KEY_CACHE_MS) has run out, both instances must look it
      // up, and the lookup fails with the database's 503 (it was a 500 before), not the key's 401.
      await sleep(Math.max(0, keyLastCheckedAt + API_KEY_CACHE_MS + 200 - performance.now()));
      for (const [i, url] of urls.entries()) {
        const answer = await call(url, 'GET', '/api/chat', { auth: apiKey });
        expect(answer.status, `instance ${'ab'[i]}: API key`).toBe(503);
        expect(answer.body).toEqual(UNAVAILABLE);
        expect(answer.ms).toBeLessThan(FAIL_FAST_MS);
      }

      // The rest of the outage: the traffic goes on meanwhile, and /healthz stays 200 throughout.
      while (performance.now() - downAt < OUTAGE_MS) {
        for (const url of urls) expect((await call(url, 'GET', '/healthz')).status).toBe(200);
        await sleep(500);
      }
      const postsDuringOutage = traffic.posts.length;

      // ---- PostgreSQL is back ----
      await server.start();
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ now: Date }>('select now() as now');
        const backAt = rows[0]!.now;

        for (const [i, url] of urls.entries()) {
          await until(async () => (await call(url, 'GET', '/readyz')).status === 200, RECOVERY_LIMIT_MS, `instance ${'ab'[i]} ready again`);
          await until(
            async () => (await call(url, 'POST', `/api/chat/${sessionId}/message`, { auth: ADMIN_API_KEY, body: { message: `${'ab'[i]} is back` } })).status === 200,
            RECOVERY_LIMIT_MS,
            `instance ${'ab'[i]} serving posts again`,
          );
          expect((await call(url, 'GET', '/api/chat', { auth: apiKey })).status).toBe(200);
        }
        // The traffic's own posts are answered again too.
        const before = traffic.answered(200);
        await until(() => traffic.answered(200) >= before + 2, RECOVERY_LIMIT_MS, 'the traffic answered again');
        const posts = await traffic.stop();

        // The same processes: none exited or was restarted.
        for (const [i, api] of apis.entries()) {
          expect(api.child.exitCode, `instance ${'ab'[i]} exited\n${output()}`).toBeNull();
          expect(api.child.pid).toBe(pids[i]);
          expect(api.output().match(/Server listening at/g)).toHaveLength(1);
        }

        // Every post was answered 200 or, while the database was down, 503: never a 500, never a hang.
        const others = posts.filter((p) => p.status !== 200 && p.status !== 503);
        expect(others, output()).toEqual([]);
        expect(posts.slice(0, postsDuringOutage).some((p) => p.status === 503)).toBe(true);
        for (const api of apis) expect(api.output()).not.toContain('unhandled error');

        // Nothing answered 200 was lost: each such message is in the history once, where its answer
        // put it, followed by the reply it answered with. Messages refused with 503 may be there too
        // (an exchange appended just before the server stopped, whose answer then failed), once at most.
        const history = await call(urlA, 'GET', `/api/chat/${sessionId}`, { auth: ADMIN_API_KEY });
        expect(history.status).toBe(200);
        const messages = history.body.history as Array<{ seq: number; role: string; content: string }>;
        expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i + 1));
        for (let i = 0; i < messages.length; i += 2) {
          expect(messages[i]!.role).toBe('user');
          expect(messages[i + 1]?.role).toBe('model');
        }
        const userTexts = messages.filter((m) => m.role === 'user').map((m) => m.content);
        expect(new Set(userTexts).size).toBe(userTexts.length);
        const answered = posts.filter((p) => p.status === 200);
        for (const post of answered) {
          expect(messages[post.seq! - 1]?.content, post.message).toBe(post.message);
          expect(messages[post.seq!]?.content, post.message).toBe(post.reply);
        }

        // The background work logged the outage and carried on: the audio worker claims again, and
        // both heartbeats are written again (rows seen after the server came back).
        for (const [i, api] of apis.entries()) {
          const log = api.output();
          expect(log, `instance ${'ab'[i]}`).toContain('cannot claim reply audio jobs; retrying');
          expect(log.indexOf('reply audio jobs can be claimed again'), `instance ${'ab'[i]}`).toBeGreaterThan(
            log.indexOf('cannot claim reply audio jobs; retrying'),
          );
          expect(log).toContain("could not write this instance's heartbeat; retrying");
        }
        await until(
          async () => (await admin.query('select 1 from instances where seen_at > $1', [backAt])).rowCount === 2,
          // A heartbeat every 5 s (db/instances.ts).
          10_000,
          'both instances beating again',
        );
      } finally {
        await admin.end();
      }
    }, 90_000);
  },
);
