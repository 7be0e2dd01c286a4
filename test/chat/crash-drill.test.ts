// The crash drill: the API as a child process, 30 posts in flight, kill -9 in the middle of the
// burst, and a restart on the same data (PGlite on disk, or the suite's PostgreSQL). Afterwards no
// exchange is half written, clients that retry with their Idempotency-Key create no duplicates, and
// every reply's audio appears by itself: no backfill is run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi, type ApiChild } from '../support/api-process.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { createScratchDatabase, TEST_DATABASE_URL, testDatabaseKind } from '../support/test-database.ts';

const SESSIONS = 5;
const POSTS = 30;
/** How long the restarted API may take to voice every reply. On PostgreSQL a dead instance's claims free up after 15 s. */
const RECOVERY_LIMIT_MS = 60_000;

interface Message {
  seq: number;
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
let dataDir: string;
let database: { url: string; drop(): Promise<void> } | undefined;
const children: ApiChild[] = [];

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([
    startS3Server(),
    // Slow enough that replies are still being voiced when the process dies.
    startPollyServer({ latencyMs: () => 400 }),
    // The reply names its message, so a reply can be matched to the message it answers.
    startGeminiServer({ delayMs: 150 }),
  ]);
  dataDir = mkdtempSync(path.join(tmpdir(), 'chat-crash-'));
  if (TEST_DATABASE_URL) database = await createScratchDatabase(TEST_DATABASE_URL, 'crash');
});
afterAll(async () => {
  for (const child of children) await child.crash();
  await database?.drop();
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

function start(): ApiChild {
  const child = spawnApi({
    DATA_DIR: dataDir,
    ...(database ? { DATABASE_URL: database.url } : {}),
    // info: spawnApi learns the address from the "Server listening at" line.
    LOG_LEVEL: 'info',
    ...awsTestEnv({ s3, polly, gemini }),
  });
  children.push(child);
  return child;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url: string, sessionId: string, message: string, key: string): Promise<Response> {
  return fetch(`${url}/api/chat/${sessionId}/message`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ message }),
  });
}

describe(`the crash drill (${testDatabaseKind})`, () => {
  it('survives kill -9 during 30 posts: whole exchanges, no duplicates on retry, every audio URL answers 200 by itself', async () => {
    const first = start();
    const url1 = await first.url;
    const sessions: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const res = await fetch(`${url1}/api/chat`, { method: 'POST' });
      sessions.push(((await res.json()) as { session_id: string }).session_id);
    }
    const posts = Array.from({ length: POSTS }, (_, n) => ({
      sessionId: sessions[n % SESSIONS]!,
      message: `drill message ${n}`,
      key: `drill-${n}-${Math.random().toString(36).slice(2)}`,
    }));

    // The burst, spread over about 600 ms. The process dies once a few posts have been answered: the
    // others are then waiting for the LLM, being appended, or being voiced.
    let answered = 0;
    const outcomes = posts.map(async (p, n) => {
      await sleep(n * 20);
      return post(url1, p.sessionId, p.message, p.key).then(
        (res) => {
          answered++;
          return res.status;
        },
        () => 'connection lost' as const,
      );
    });
    const burstStart = performance.now();
    while (answered < 3) {
      expect(performance.now() - burstStart, first.output()).toBeLessThan(20_000);
      await sleep(10);
    }
    await first.crash();
    const firstAnswers = await Promise.all(outcomes);
    const lost = firstAnswers.filter((a) => a !== 200).length;
    // The drill means something only if the crash cut some posts off and let others through.
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(POSTS);

    // The restart: clients whose answer was lost retry with the same key until they get one.
    const second = start();
    const url2 = await second.url;
    const restartedAt = performance.now();

    // What the crash left: exchanges saved whose client never heard back, the case that makes a
    // retry without an Idempotency-Key post the message twice.
    let saved = 0;
    for (const id of sessions) saved += ((await (await fetch(`${url2}/api/chat/${id}`)).json()) as { history: Message[] }).history.length / 2;
    expect(saved).toBeGreaterThan(POSTS - lost);
    await Promise.all(
      posts.map(async (p, n) => {
        if (firstAnswers[n] === 200) return;
        for (;;) {
          const res = await post(url2, p.sessionId, p.message, p.key);
          if (res.status === 200) return;
          // 409: the first attempt is still held by the dead process until its heartbeat runs out.
          expect(res.status, await res.text()).toBe(409);
          expect(performance.now() - restartedAt).toBeLessThan(RECOVERY_LIMIT_MS);
          await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
        }
      }),
    );

    // Each session holds each of its messages once, each followed by its own reply.
    const histories = new Map<string, Message[]>();
    for (const id of sessions) {
      const res = await fetch(`${url2}/api/chat/${id}`);
      expect(res.status).toBe(200);
      const history = ((await res.json()) as { history: Message[] }).history;
      histories.set(id, history);
      const sent = posts.filter((p) => p.sessionId === id).map((p) => p.message);
      expect(history).toHaveLength(sent.length * 2);
      expect(history.map((m) => m.seq)).toEqual(history.map((_, i) => i + 1));
      for (let i = 0; i < history.length; i += 2) {
        expect(history[i]).toMatchObject({ role: 'user' });
        expect(history[i + 1]).toMatchObject({ role: 'model', content: `You said: ${history[i]!.content}` });
      }
      expect(history.filter((m) => m.role === 'user').map((m) => m.content).sort()).toEqual([...sent].sort());
    }

    // Every reply's audio appears, with no backfill: the restarted worker takes up what was left.
    const urls = [...histories.values()].flat().filter((m) => m.role === 'model').map((m) => m.audio_url!);
    expect(urls).toHaveLength(POSTS);
    let missing = urls;
    while (missing.length > 0) {
      expect(performance.now() - restartedAt, `${missing.length} audio URLs still 404`).toBeLessThan(RECOVERY_LIMIT_MS);
      await sleep(250);
      const found = await Promise.all(missing.map(async (u) => (await fetch(u, { method: 'HEAD' })).status === 200));
      missing = missing.filter((_, i) => !found[i]);
    }

    expect(await second.stop()).toBe(0);
  }, 180_000);
});
