// The scale-out drill: API processes behind an imaginary load balancer, sharing one PostgreSQL, one
// S3 (s3rver), one Redis and one Polly (its protocol server), with every request alternating between
// two instances. What the contract promises for many instances, checked across real processes:
//   - no message is lost and a session's history stays whole under concurrent posts;
//   - one synthesis per audio key across all instances;
//   - rate limits are counted once for all instances (REDIS_URL);
//   - an API key deleted on one instance stops working on the others within 5 s.
//
// Two pairs of processes, because the limits drill needs a small MESSAGE_RATE_LIMIT_PER_MINUTE that
// the 90 posts of the other drills would run into. The pair for the limits is started only when
// there is a Redis (test/support/redis.ts); without one that drill is skipped with the reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { spawnApi, type ApiChild } from '../support/api-process.ts';
import { speechTestEnv } from '../support/aws-env.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { findPostgresBinaries, NO_POSTGRES_REASON, startPostgresServer } from '../support/postgres-server.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { createScratchDatabase, TEST_DATABASE_URL } from '../support/test-database.ts';

// The suite's PostgreSQL when there is one (a database of this file's own), else a private server.
const databaseSource = TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : findPostgresBinaries() ? 'a private PostgreSQL server' : undefined;

const ADMIN_API_KEY = 'scale-out-drill-admin-key-0123456789abcdef';
/** The contract: a key deleted on one instance fails on every other within this. */
const KEY_REVOCATION_LIMIT_MS = 5_000;
/** The small message limit of the limits pair. */
const MESSAGE_LIMIT = 5;
/**
 * Replies cut to 40 characters (LLM_MAX_OUTPUT_TOKENS=10, 4 characters a token): every message here
 * is longer than that, so each reply stops inside its first sentence, which the offline model opens
 * with the message's first words. One sentence is one segment, so a reply is exactly one Polly call,
 * and the reply still names the message it answers.
 */
const MAX_OUTPUT_TOKENS = '10';

interface Message {
  seq: number;
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}

interface Answer {
  status: number;
  body: any;
}

async function call(base: string, method: string, url: string, opts: { auth: string; body?: unknown }): Promise<Answer> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${opts.auth}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    // A hang fails the drill rather than holding it.
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!databaseSource)(
  `the scale-out drill: two instances on one ${databaseSource ?? `PostgreSQL (skipped: no TEST_DATABASE_URL and ${NO_POSTGRES_REASON})`}, S3, Redis and Polly`,
  () => {
    let databaseUrl: string;
    let dropDatabase: () => Promise<void> = async () => {};
    let s3: S3TestServer;
    let polly: PollyServer;
    let redis: TestRedis | undefined;
    let noRedisReason = '';
    const children: ApiChild[] = [];
    const dataDirs: string[] = [];
    /** Instances A and B for the message, audio and key drills (high limits). */
    let pair: [string, string];
    /** Instances A and B with MESSAGE_LIMIT, counted in Redis; undefined without Redis. */
    let limited: [string, string] | undefined;

    function start(env: Record<string, string>): ApiChild {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'scale-out-'));
      dataDirs.push(dataDir);
      const child = spawnApi({
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        LLM_PROVIDER: 'offline',
        LLM_MAX_OUTPUT_TOKENS: MAX_OUTPUT_TOKENS,
        // info: spawnApi learns the address from the "Server listening at" line.
        LOG_LEVEL: 'info',
        AUTH_MODE: 'required',
        ADMIN_API_KEY,
        // S3 (s3rver) and Polly (its protocol server), through the documented variables only.
        ...speechTestEnv({ s3, polly }),
        ...(redis ? { REDIS_URL: redis.url } : {}),
        ...env,
      });
      children.push(child);
      return child;
    }

    beforeAll(async () => {
      if (TEST_DATABASE_URL) {
        const scratch = await createScratchDatabase(TEST_DATABASE_URL, 'scale');
        databaseUrl = scratch.url;
        dropDatabase = scratch.drop;
      } else {
        const server = await startPostgresServer();
        databaseUrl = server.url;
        dropDatabase = server.destroy;
      }
      const started = await startTestRedis();
      if ('skipReason' in started) noRedisReason = started.skipReason;
      else redis = started;
      [s3, polly] = await Promise.all([startS3Server(), startPollyServer()]);

      // The migrations first, as `npm run db:migrate` would: processes applying them at once to an
      // empty database would race to create the tables. Then every process starts at once.
      const migrator = openDatabase({ url: databaseUrl });
      await migrator.migrate().finally(() => migrator.close());
      const high = { RATE_LIMIT_PER_MINUTE: '100000', MESSAGE_RATE_LIMIT_PER_MINUTE: '100000' };
      const small = { MESSAGE_RATE_LIMIT_PER_MINUTE: String(MESSAGE_LIMIT) };
      const processes = [start(high), start(high), ...(redis ? [start(small), start(small)] : [])];
      const urls = await Promise.all(processes.map((child) => child.url));
      pair = [urls[0]!, urls[1]!];
      if (redis) limited = [urls[2]!, urls[3]!];
      // Up to four process starts at once (tsx, DescribeVoices): about 10 s.
    }, 90_000);

    afterAll(async () => {
      for (const child of children) await child.crash();
      await redis?.stop();
      await Promise.all([s3?.close(), polly?.close()]);
      await dropDatabase();
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    });

    it('40 concurrent posts to one session, alternating between the instances, leave 80 messages, each exchange whole', async () => {
      const [a, b] = pair;
      const session = await call(a, 'POST', '/api/chat', { auth: ADMIN_API_KEY });
      expect(session.status).toBe(201);
      const id = session.body.session_id as string;

      // The tag first, so that the reply (which opens by quoting the message) names it.
      const sent = Array.from({ length: 40 }, (_, n) => `m${String(n).padStart(2, '0')} alpha bravo charlie delta echo foxtrot golf`);
      const answers = await Promise.all(
        sent.map((message, n) => call(n % 2 === 0 ? a : b, 'POST', `/api/chat/${id}/message`, { auth: ADMIN_API_KEY, body: { message } })),
      );
      expect(answers.map((r) => r.status)).toEqual(sent.map(() => 200));

      // Read from either instance: the same rows.
      for (const url of pair) {
        const read = await call(url, 'GET', `/api/chat/${id}`, { auth: ADMIN_API_KEY });
        expect(read.status).toBe(200);
        const history = read.body.history as Message[];
        expect(history).toHaveLength(80);
        expect(history.map((m) => m.seq)).toEqual(history.map((_, i) => i + 1));
        for (let i = 0; i < history.length; i += 2) {
          const [user, model] = [history[i]!, history[i + 1]!];
          expect(user.role).toBe('user');
          expect(model.role).toBe('model');
          // Its own reply: the one tag it names is the message's.
          expect(model.content.match(/m\d\d/g), `${user.content} → ${model.content}`).toEqual([user.content.slice(0, 3)]);
        }
        const userTexts = history.filter((m) => m.role === 'user').map((m) => m.content);
        expect([...userTexts].sort()).toEqual([...sent].sort());
      }
    });

    // 50 sessions rather than one: the audio key is the reply's text and voice, whatever the session,
    // so the dedupe shown is across sessions and instances alike, and the posts do not queue behind
    // one session's row lock (the drill above covers a single session's order).
    it('50 concurrent posts whose reply is the same make exactly one Polly synthesis in all, and every audio URL serves the MP3', async () => {
      const [a, b] = pair;
      const sessions = await Promise.all(
        Array.from({ length: 50 }, async (_, n) => {
          const res = await call(n % 2 === 0 ? a : b, 'POST', '/api/chat', { auth: ADMIN_API_KEY });
          expect(res.status).toBe(201);
          return res.body.session_id as string;
        }),
      );
      // The offline reply depends on the persona and the message only: the same for all 50.
      const message = 'the same question for everyone here at once';
      polly.reset();
      s3.resetRequests();

      const answers = await Promise.all(
        sessions.map((id, n) => call(n % 2 === 0 ? a : b, 'POST', `/api/chat/${id}/message`, { auth: ADMIN_API_KEY, body: { message } })),
      );
      expect(answers.map((r) => r.status)).toEqual(sessions.map(() => 200));
      const replies = answers.map((r) => (r.body.history as Message[]).at(-1)!);
      expect(new Set(replies.map((r) => r.content)).size).toBe(1);

      expect(polly.synthRequests.map((r) => ({ voiceId: r.voiceId, status: r.status }))).toEqual([{ voiceId: 'Joanna', status: 200 }]);
      const audioUrls = replies.map((r) => r.audio_url);
      expect(new Set(audioUrls).size).toBe(1);
      const audioUrl = audioUrls[0]!;
      expect(audioUrl).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/polly-neural-mp3/[0-9a-f]{64}\\.mp3$`));
      // Stored once, by whichever instance ran the one synthesis.
      const key = new URL(audioUrl).pathname;
      expect(s3.requestLog().filter((r) => r.method === 'PUT' && r.url.startsWith(key))).toHaveLength(1);

      const fetched = await Promise.all(audioUrls.map((url) => fetch(url!)));
      for (const res of fetched) {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('audio/mpeg');
        expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
      }
    });

    it('counts a principal\'s messages once across the instances (REDIS_URL): refused at the same count as on one instance', async (ctx) => {
      if (!limited) return ctx.skip(noRedisReason);
      const [a, b] = limited;
      // Two users' keys, made by the admin (on the other pair: the admin's own count is not the point).
      const keyOf = async (owner: string) => {
        const made = await call(pair[0], 'POST', '/api/keys', { auth: ADMIN_API_KEY, body: { name: `limits ${owner}`, owner_id: owner } });
        expect(made.status).toBe(201);
        return made.body.key as string;
      };
      const [alternating, alone] = await Promise.all([keyOf('limits-alternating'), keyOf('limits-alone')]);

      // MESSAGE_LIMIT + 3 posts, one after another so that the order is known, the same message each
      // time (a cache hit after the first: the limit is what is measured, not synthesis).
      const posts = async (key: string, urls: string[]) => {
        const url0 = urls[0]!;
        const session = await call(url0, 'POST', '/api/chat', { auth: key });
        expect(session.status).toBe(201);
        const statuses: number[] = [];
        for (let n = 0; n < MESSAGE_LIMIT + 3; n++) {
          const res = await call(urls[n % urls.length]!, 'POST', `/api/chat/${session.body.session_id}/message`, {
            auth: key,
            body: { message: 'count me once, whichever instance answers' },
          });
          statuses.push(res.status);
          if (res.status === 429) expect(res.body.message).toContain('MESSAGE_RATE_LIMIT_PER_MINUTE');
        }
        return statuses;
      };
      const across = await posts(alternating, [a, b]);
      const single = await posts(alone, [a]);
      const expected = [...Array<number>(MESSAGE_LIMIT).fill(200), 429, 429, 429];
      expect(across).toEqual(expected);
      expect(single).toEqual(expected);
    });

    it('stops a key deleted on instance A from working on instance B within 5 s', async () => {
      const [a, b] = pair;
      const made = await call(a, 'POST', '/api/keys', { auth: ADMIN_API_KEY, body: { name: 'to revoke', owner_id: 'revocation' } });
      expect(made.status).toBe(201);
      const { id, key } = made.body as { id: string; key: string };
      // B has checked the key and trusts it for a while (access/credentials.ts): the worst case.
      expect((await call(b, 'GET', '/api/chat', { auth: key })).status).toBe(200);
      expect((await call(a, 'GET', '/api/chat', { auth: key })).status).toBe(200);

      expect((await call(a, 'DELETE', `/api/keys/${id}`, { auth: ADMIN_API_KEY })).status).toBe(204);
      const deletedAt = performance.now();
      // A forgets it at once.
      expect((await call(a, 'GET', '/api/chat', { auth: key })).status).toBe(401);

      let status = 200;
      while (status !== 401 && performance.now() - deletedAt <= KEY_REVOCATION_LIMIT_MS) {
        status = (await call(b, 'GET', '/api/chat', { auth: key })).status;
        if (status !== 401) {
          expect(status).toBe(200);
          await sleep(100);
        }
      }
      const elapsed = performance.now() - deletedAt;
      expect(status, `B still accepted the deleted key after ${Math.round(elapsed)} ms`).toBe(401);
      expect(elapsed).toBeLessThan(KEY_REVOCATION_LIMIT_MS);
    });
  },
);
