// The audio backfill against the real product: offline LLM, eSpeak, the file store and the real
// migrations. Voices change through the HTTP API, so the audio of existing replies goes missing the
// way it does in production.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { personas } from '../../src/db/schema.ts';
import { backfillAudio, BackfillScopeError, type BackfillProgress } from '../../src/chat/audio-backfill.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type ChatMessage = { role: 'user' | 'model'; content: string; audio_url: string | null };

async function createPersona(t: TestApp, voice_id: string) {
  const res = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: `P ${voice_id}`, system_prompt: `You speak as ${voice_id}.`, voice_id } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

async function createSession(t: TestApp, persona_id: string | null) {
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id } });
  expect(res.statusCode).toBe(201);
  return res.json().session_id as string;
}

async function say(t: TestApp, sessionId: string, message: string) {
  const res = await t.app.inject({ method: 'POST', url: `/api/chat/${sessionId}/message`, payload: { message } });
  expect(res.statusCode).toBe(200);
  const history = res.json().history as ChatMessage[];
  expect(history.at(-1)!.audio_url).not.toBeNull();
}

async function setVoice(t: TestApp, personaId: string, voice_id: string) {
  const res = await t.app.inject({ method: 'PATCH', url: `/api/personas/${personaId}`, payload: { voice_id } });
  expect(res.statusCode).toBe(200);
}

async function replies(t: TestApp, sessionId: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/chat/${sessionId}` });
  expect(res.statusCode).toBe(200);
  return (res.json().history as ChatMessage[]).filter((m) => m.role === 'model');
}

async function audioPresent(t: TestApp, sessionId: string, voice: string) {
  return Promise.all((await replies(t, sessionId)).map((m) => t.product.store.has(t.product.speech.keyFor(m.content, voice))));
}

const run = (t: TestApp, extra: Partial<Parameters<typeof backfillAudio>[0]> = {}) =>
  backfillAudio({ sessions: t.product.sessions, speech: t.product.speech, ...extra });

describe('backfillAudio', () => {
  let t: TestApp;
  let amy: string; // persona that moves from Amy to Brian
  let s1: string; // two replies, then the voice changes
  let s2: string; // the same two messages as s1: the same reply texts
  let s3: string; // no persona: the default voice, never changed
  let other: string; // persona Amy too, with a text of its own
  let before: string[]; // s1's reply texts

  beforeAll(async () => {
    t = await startTestApp();
    amy = await createPersona(t, 'Amy');
    s1 = await createSession(t, amy);
    s2 = await createSession(t, amy);
    s3 = await createSession(t, null);
    for (const s of [s1, s2]) {
      await say(t, s, 'Tell me about lighthouses.');
      await say(t, s, 'And about tides?');
    }
    await say(t, s3, 'Hello there.');
    other = await createSession(t, amy);
    await say(t, other, 'Something else entirely.');
    before = (await replies(t, s1)).map((m) => m.content);
    expect(before).toHaveLength(2);
    expect(new Set(before).size).toBe(2);
    await setVoice(t, amy, 'Brian');
  });
  afterAll(() => t?.close());

  it('starts from replies whose audio in the new voice is missing', async () => {
    expect(await audioPresent(t, s1, 'Amy')).toEqual([true, true]);
    expect(await audioPresent(t, s1, 'Brian')).toEqual([false, false]);
    expect(await audioPresent(t, s3, t.config.defaultVoiceId)).toEqual([true]);
  });

  it('limits the run to one session with sessionId', async () => {
    const summary = await run(t, { sessionId: s1 });
    expect(summary).toMatchObject({ scanned: 2, uniquePairs: 2, present: 0, synthesized: 2, failed: 0, aborted: false, failures: [] });
    expect(summary.billedCharacters).toBeGreaterThan(0);
    expect(await audioPresent(t, s1, 'Brian')).toEqual([true, true]);
    // Another session of the same persona, with texts of its own, was left alone.
    expect(await audioPresent(t, other, 'Brian')).toEqual([false]);
    const scoped = await run(t, { sessionId: s3 });
    expect(scoped).toMatchObject({ scanned: 1, uniquePairs: 1, present: 1, synthesized: 0 });
    expect(await audioPresent(t, other, 'Brian')).toEqual([false]);
  });

  it('synthesizes exactly the missing audio, once per (text, voice) pair, and reports progress', async () => {
    const progress: BackfillProgress[] = [];
    const summary = await run(t, { onProgress: (p) => progress.push(p) });
    // s1 + s2 (2 + 2, the same two texts) + other (1) + s3 (1).
    expect(summary).toMatchObject({ scanned: 6, uniquePairs: 4, present: 3, synthesized: 1, failed: 0, aborted: false });
    const { failures: _failures, aborted: _aborted, ...counts } = summary;
    expect(progress.at(-1)).toEqual(counts);
    expect(progress.length).toBeGreaterThanOrEqual(1 + summary.uniquePairs);

    // The read path now points at files that exist and play.
    for (const m of await replies(t, s2)) {
      expect(m.audio_url!.endsWith(t.product.speech.keyFor(m.content, 'Brian').split('/').at(-1)!)).toBe(true);
      const audio = await t.app.inject({ method: 'GET', url: m.audio_url! });
      expect(audio.statusCode).toBe(200);
      expect(audio.headers['content-type']).toBe('audio/mpeg');
    }
  });

  it('is idempotent: a second run synthesizes nothing and reports everything present', async () => {
    const summary = await run(t);
    expect(summary).toMatchObject({ scanned: 6, uniquePairs: 4, present: 4, synthesized: 0, failed: 0, billedCharacters: 0 });
  });

  it('walks pages by (session_id, seq) without skipping or repeating a message', async () => {
    // One message per page: every pair repeats per page, so 6 pairs, all present.
    const summary = await run(t, { pageSize: 1, concurrency: 1 });
    expect(summary).toMatchObject({ scanned: 6, uniquePairs: 6, present: 6, synthesized: 0 });
    const two = await run(t, { pageSize: 2 });
    expect(two).toMatchObject({ scanned: 6, present: two.uniquePairs, synthesized: 0 });
  });

  it('stops taking new items after an abort and says the run was interrupted', async () => {
    const controller = new AbortController();
    const summary = await run(t, {
      pageSize: 1,
      concurrency: 1,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.present === 2) controller.abort();
      },
    });
    expect(summary).toMatchObject({ scanned: 2, present: 2, aborted: true });
  });

  it('rejects a session id that is not a UUID or does not exist', async () => {
    await expect(run(t, { sessionId: 'nope' })).rejects.toThrow(BackfillScopeError);
    await expect(run(t, { sessionId: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow(
      /no chat session with id 00000000-0000-4000-8000-000000000000/,
    );
  });

  it('counts a pair the engine cannot speak as failed and still does the others', async () => {
    const broken = await createPersona(t, 'Amy');
    const fine = await createPersona(t, 'Amy');
    const sb = await createSession(t, broken);
    const sf = await createSession(t, fine);
    await say(t, sb, 'Broken voice ahead.');
    await say(t, sf, 'Working voice ahead.');
    await setVoice(t, fine, 'Brian');
    // The API refuses unknown voices, but a row edited by hand (or a voice the engine dropped) has one.
    await t.product.database.db.update(personas).set({ voiceId: 'NoSuchVoice' }).where(eq(personas.id, broken));

    const summary = await run(t);
    expect(summary).toMatchObject({ scanned: 8, failed: 1, synthesized: 1, present: summary.uniquePairs - 2, aborted: false });
    const [brokenReply] = await replies(t, sb);
    expect(summary.failures).toEqual([
      {
        key: t.product.speech.keyFor(brokenReply!.content, 'NoSuchVoice'),
        voiceId: 'NoSuchVoice',
        sessionId: sb,
        seq: 2,
        // The engine's own message, which names the voice.
        error: expect.stringContaining('NoSuchVoice'),
      },
    ]);
    expect(await audioPresent(t, sf, 'Brian')).toEqual([true]);
  });
});

describe('npm run audio:backfill (the CLI, as a child process)', () => {
  let t: TestApp;
  let sessionId: string;
  let other: string;
  // The replies of each session, read before the app stops (the CLI needs PGlite to itself).
  const repliesOf = new Map<string, ChatMessage[]>();

  beforeAll(async () => {
    // Always PGlite on disk, even when the suite runs on PostgreSQL: the CLI must find the data in DATA_DIR.
    const dataDir = mkdtempSync(path.join(tmpdir(), 'backfill-cli-'));
    const database = { open: () => openDatabase({ pgliteDir: path.join(dataDir, 'pglite') }), drop: async () => {} };
    t = await startTestApp({}, { reuse: { database, dataDir } });
    const persona = await createPersona(t, 'Amy');
    sessionId = await createSession(t, persona);
    other = await createSession(t, persona);
    await say(t, sessionId, 'First question.');
    await say(t, sessionId, 'Second question.');
    await say(t, other, 'A question elsewhere.');
    await setVoice(t, persona, 'Brian');
    for (const id of [sessionId, other]) repliesOf.set(id, await replies(t, id));
    // PGlite must never be open in two processes: the CLI gets the directory to itself.
    await t.stop();
  });
  afterAll(() => t?.close());

  function cli(args: string[]) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATA_DIR: t.dataDir,
        LLM_PROVIDER: 'offline',
        // Empty counts as unset, and set variables win over a developer's .env.
        DATABASE_URL: '',
        S3_BUCKET_NAME: '',
        AUDIO_KEY_PREFIX: t.product.keyPrefix,
        DEFAULT_POLLY_VOICE_ID: t.config.defaultVoiceId,
      };
      delete env.TEST_DATABASE_URL;
      execFile('npx', ['tsx', 'src/cli/backfill.ts', ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      });
    });
  }

  it('backfills one session, prints the summary and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['--session', sessionId]);
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(stdout).toMatch(new RegExp(`audio backfill done \\(session ${sessionId}\\)`));
    expect(stdout).toMatch(/messages scanned\s+2\n/);
    expect(stdout).toMatch(/synthesized\s+2\n/);
    expect(stdout).toMatch(/already present\s+0\n/);
    expect(stdout).toMatch(/failed\s+0\n/);
    expect(stdout).toMatch(/elapsed seconds\s+\d+\.\d\n?/);

    // The CLI did the session it was given and nothing else: the files are in the store.
    const present = async (id: string) =>
      Promise.all(repliesOf.get(id)!.map((m) => t.product.store.has(t.product.speech.keyFor(m.content, 'Brian'))));
    expect(await present(sessionId)).toEqual([true, true]);
    expect(await present(other)).toEqual([false]);
  });

  it('exits 3 with a clear message while the API holds the embedded database', async () => {
    const running = await startTestApp({}, { reuse: { database: t.database, dataDir: t.dataDir } });
    try {
      const { code, stderr } = await cli([]);
      expect(code).toBe(3);
      expect(stderr).toMatch(/could not start: the embedded database in .* is in use by process \d+/);
    } finally {
      await running.stop();
    }
  });

  it('exits 2 with a clear message for an unknown or malformed session', async () => {
    const unknown = await cli(['--session', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no chat session with id 00000000-0000-4000-8000-000000000000');
    expect(unknown.stdout).toBe('');

    const malformed = await cli(['--session', 'abc']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--session must be a session id (a UUID)');
  });
});
