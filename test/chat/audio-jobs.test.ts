// Durable reply audio through the real app, with Polly (a server speaking its protocol), S3 (s3rver)
// and the suite's database: outages are ridden out without billing anything twice, refusals stop
// after a bounded number of attempts, a POST that gave up waiting leaves the work to the worker, an
// abandoned job is taken over, and two instances on one database synthesize a key once.
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backfillAudio } from '../../src/chat/audio-backfill.ts';
import { audioJobs, personas } from '../../src/db/schema.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
const apps: TestApp[] = [];

const awsEnv = (extra: Record<string, string> = {}) => ({ ...awsTestEnv({ s3, polly, gemini }), ...extra });
// Retries in tens of milliseconds rather than seconds, so that a drill takes a moment.
const fastRetries = { baseDelayMs: 40, maxDelayMs: 200, pollMs: 50, waitPollMs: 25 };

async function start(extraEnv: Record<string, string> = {}, shareWith?: TestApp): Promise<TestApp> {
  const t = await startTestApp(awsEnv(extraEnv), { wiring: { audioJobs: fastRetries }, ...(shareWith ? { shareDatabaseWith: shareWith } : {}) });
  apps.push(t);
  return t;
}

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
});
afterEach(async () => {
  // Instances that share a database stop before the one that opened it.
  for (const t of apps.splice(0).reverse()) await t.close();
});
afterAll(async () => {
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
});
beforeEach(() => {
  polly.reset();
  gemini.reset();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 20_000): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms: ${what}`);
    await sleep(25);
  }
}

async function session(t: TestApp): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: {} });
  return res.json().session_id as string;
}

async function send(t: TestApp, id: string, message: string) {
  const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().history.at(-1) as { role: string; content: string; audio_url: string | null };
}

async function history(t: TestApp, id: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/chat/${id}` });
  return res.json().history as Array<{ role: string; content: string; audio_url: string | null }>;
}

const jobs = (t: TestApp) => t.product.database.db.select().from(audioJobs);
const stored = async (url: string) => (await fetch(url, { method: 'HEAD' })).status === 200;
/** Successful SynthesizeSpeech calls per text: what Polly billed. */
function billedCalls(): Map<string, number> {
  const calls = new Map<string, number>();
  for (const r of polly.synthRequests) if (r.status === 200) calls.set(r.text, (calls.get(r.text) ?? 0) + 1);
  return calls;
}

describe('durable reply audio', () => {
  it('rides out a Polly outage: the replies are saved, their audio appears once Polly is back, and nothing is billed twice', async () => {
    const t = await start();
    const id = await session(t);
    polly.setOutage('unavailable');
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await send(t, id, `during the outage ${i}`));
    // The POSTs answered with their text and no audio; the work is recorded, not lost.
    expect(replies.map((r) => r.audio_url)).toEqual([null, null, null, null]);
    expect((await jobs(t)).map((j) => j.state)).toEqual(['pending', 'pending', 'pending', 'pending']);

    // It keeps trying while the outage lasts (backoff with jitter), each attempt recorded.
    await eventually('a retry of every job', async () => ((await jobs(t)).every((j) => j.attempts >= 2) ? true : undefined));
    const duringOutage = polly.synthRequests.length;
    expect(duringOutage).toBeGreaterThan(4);
    expect(polly.synthRequests.every((r) => r.status !== 200)).toBe(true);
    expect((await jobs(t))[0]!.lastError).toMatch(/ServiceUnavailableException/);
    expect(t.logs.some((l) => l.msg === 'reply audio failed; it is retried' && typeof l.key === 'string')).toBe(true);

    polly.setOutage(false);
    await eventually('every job done', async () => ((await jobs(t)).length === 0 ? true : undefined));
    const urls = (await history(t, id)).filter((m) => m.role === 'model').map((m) => m.audio_url!);
    expect(urls).toHaveLength(4);
    for (const url of urls) expect(await stored(url)).toBe(true);
    // One successful call per reply: the failed calls were not billed, and no reply was made twice.
    expect([...billedCalls().values()]).toEqual([1, 1, 1, 1]);
  });

  it('stops after a bounded number of attempts when Polly refuses the voice, logs the key, and leaves it for the backfill', async () => {
    const t = await start();
    const persona = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'Retired', voice_id: 'Matthew' } });
    // The voice is withdrawn after the persona was made: Polly now refuses it with a ValidationException.
    await t.product.database.db.update(personas).set({ voiceId: 'Withdrawn' }).where(eq(personas.id, persona.json().id));
    const chat = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: persona.json().id } });
    const reply = await send(t, chat.json().session_id, 'say it anyway');
    expect(reply.audio_url).toBeNull();

    const [failed] = await eventually('the job marked failed', async () => {
      const rows = await jobs(t);
      return rows[0]?.state === 'failed' ? rows : undefined;
    });
    expect(failed).toMatchObject({ state: 'failed', attempts: 3, voiceId: 'Withdrawn' });
    expect(failed!.lastError).toMatch(/ValidationException/);
    expect(polly.synthRequests).toHaveLength(3);
    const given = t.logs.find((l) => l.level === 50 && l.key === failed!.key);
    expect(given?.msg).toMatch(/given up; npm run audio:backfill retries it/);

    // It is not retried forever...
    await sleep(500);
    expect(polly.synthRequests).toHaveLength(3);
    // ...and the backfill finds the reply, naming the same key.
    const backfill = () => backfillAudio({ sessions: t.product.sessions, speech: t.product.speech, jobs: t.product.audioJobs });
    const summary = await backfill();
    expect(summary.failed).toBe(1);
    expect(summary.failures[0]).toMatchObject({ key: failed!.key, voiceId: 'Withdrawn' });

    // Once the cause is fixed (the persona gets a voice Polly has), the backfill voices the reply in
    // its session's new voice. That is another key, so the failed job of the old key stays, as the
    // record of what failed.
    await t.product.database.db.update(personas).set({ voiceId: 'Joanna' }).where(eq(personas.id, persona.json().id));
    expect((await backfill()).synthesized).toBe(1);
    expect(await jobs(t)).toHaveLength(1);
  });

  it('forgets a failed job once the backfill stores its audio', async () => {
    const t = await start();
    const id = await session(t);
    polly.setOutage('unavailable');
    await send(t, id, 'unlucky');
    const [row] = await jobs(t);
    // Marked failed as the worker marks it after its last attempt, and only then is Polly back.
    await t.product.database.db.update(audioJobs).set({ state: 'failed', lockedBy: null }).where(eq(audioJobs.key, row!.key));
    polly.setOutage(false);
    const summary = await backfillAudio({ sessions: t.product.sessions, speech: t.product.speech, jobs: t.product.audioJobs });
    expect(summary).toMatchObject({ synthesized: 1, failed: 0 });
    expect(await jobs(t)).toHaveLength(0);
  });

  it('finishes the audio after the POST stopped waiting (SPEECH_TIMEOUT_MS)', async () => {
    const t = await start({ SPEECH_TIMEOUT_MS: '100' });
    polly.setLatency(() => 600);
    const id = await session(t);
    const reply = await send(t, id, 'a slow voice');
    expect(reply.audio_url).toBeNull();
    await eventually('the job done', async () => ((await jobs(t)).length === 0 ? true : undefined));
    const [, model] = await history(t, id);
    expect(await stored(model!.audio_url!)).toBe(true);
    expect(polly.synthRequests).toHaveLength(1);
    expect(t.logs.some((l) => l.msg === 'late reply audio is stored')).toBe(true);
  });

  it('takes over a job whose instance is gone', async () => {
    const t = await start();
    const id = await session(t);
    const reply = await send(t, id, 'first');
    const text = 'An orphaned reply, claimed by a process that died.';
    const key = t.product.speech.keyFor(text, 'Joanna');
    await t.product.database.db
      .insert(audioJobs)
      .values({ key, replyText: text, voiceId: 'Joanna', attempts: 1, lockedBy: randomUUID(), lockedAt: new Date() });
    await eventually('the orphan done', async () => ((await jobs(t)).length === 0 ? true : undefined));
    expect(await stored(await t.product.speech.urlFor(text, 'Joanna'))).toBe(true);
    expect(reply.audio_url).not.toBeNull();
  });

  it('synthesizes a key once when two instances on one database post the same reply at once', async () => {
    const a = await start();
    const b = await start({}, a);
    polly.setLatency(() => 300);
    const [idA, idB] = [await session(a), await session(b)];
    const [fromA, fromB] = await Promise.all([send(a, idA, 'the same words'), send(b, idB, 'the same words')]);
    expect(fromA.content).toBe(fromB.content);
    expect(fromA.audio_url).not.toBeNull();
    expect(fromB.audio_url).toBe(fromA.audio_url);
    expect(await stored(fromA.audio_url!)).toBe(true);
    expect(polly.synthRequests).toHaveLength(1);
  });
});
