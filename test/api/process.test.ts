// The process as an operator runs it: `node --import tsx src/main.ts` with only environment, and
// `npm start`, the quick start, which is what a process manager or a terminal sends its signals to.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi as startApi } from '../support/api-process.ts';
import { eventsNamed, postStream } from '../support/event-stream-client.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the API process', () => {
  let dataDir: string;
  let gemini: GeminiServer;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'chat-process-'));
    gemini = await startGeminiServer();
  });
  afterAll(async () => {
    await gemini?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits with the name of a badly set variable, and without its value', async () => {
    const api = startApi({ DATA_DIR: dataDir, POLLY_ENGINE: 'turbo-secret' });
    const [code] = await once(api.child, 'exit');
    expect(code).toBe(1);
    expect(api.output()).toMatch(/POLLY_ENGINE/);
    expect(api.output()).not.toContain('turbo-secret');
  });

  it('refuses to start with a DEFAULT_POLLY_VOICE_ID the engine cannot speak', async () => {
    const api = startApi({ DATA_DIR: path.join(dataDir, 'voice-check'), DEFAULT_POLLY_VOICE_ID: 'Bogus' });
    const [code] = await once(api.child, 'exit');
    expect(code).toBe(1);
    expect(api.output()).toMatch(/DEFAULT_POLLY_VOICE_ID: voice \\"Bogus\\" is not a known voice/);
  });

  it('finishes the requests in flight on SIGTERM, then exits 0 having closed the database', async () => {
    const api = startApi({
      DATA_DIR: dataDir,
      GEMINI_API_KEY: 'process-test-key',
      GEMINI_BASE_URL: gemini.url,
      LOG_LEVEL: 'info',
    });
    const url = await api.url;

    // A second process on the same embedded database is refused, clearly, before it can corrupt it.
    const intruder = startApi({ DATA_DIR: dataDir });
    const [intruderCode] = await once(intruder.child, 'exit');
    expect(intruderCode).toBe(1);
    expect(intruder.output()).toMatch(/in use by process \d+/);

    const session = (await (await fetch(`${url}/api/chat`, { method: 'POST' })).json()) as { session_id: string };

    gemini.nextDelay(1_500);
    const inFlight = fetch(`${url}/api/chat/${session.session_id}/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'slow one' }),
    });
    // Wait until the request reached the LLM, then ask the process to stop.
    while (gemini.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
    api.child.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { history: Array<{ content: string }> };
    expect(body.history.map((m) => m.content)).toEqual(['slow one', 'You said: slow one']);
    const [code] = await once(api.child, 'exit');
    expect(code).toBe(0);
    expect(api.output()).not.toContain('process-test-key');

    // The data survived: a new process on the same DATA_DIR (PGlite reopened) has the messages.
    const again = startApi({ DATA_DIR: dataDir, LLM_PROVIDER: 'offline' });
    try {
      const url2 = await again.url;
      const reread = (await (await fetch(`${url2}/api/chat/${session.session_id}`)).json()) as { history: unknown[] };
      expect(reread.history).toHaveLength(2);
    } finally {
      again.child.kill('SIGTERM');
      await once(again.child, 'exit');
    }
    // Four process starts (tsx, PGlite, migrations): about 18 s alone, more beside other test files.
  }, 90_000);

  it('drains a streamed reply when `npm start` gets SIGTERM, and leaves no process behind', async () => {
    // npm runs a script through `sh -c`, which does not pass signals on: without the script's
    // `exec`, npm would exit and leave the API running, orphaned, on its port and its database.
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: path.join(dataDir, 'npm-start'),
        GEMINI_API_KEY: 'process-test-key',
        GEMINI_BASE_URL: gemini.url,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const npmExited = once(npm, 'exit');
    const started = Date.now();
    let listening: RegExpExecArray | null = null;
    while (!(listening = /"pid":(\d+).*Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out))) {
      if (npm.exitCode !== null || Date.now() - started > 60_000) throw new Error(`npm start did not listen: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const apiPid = Number(listening[1]);
    const url = listening[2]!;
    expect(apiPid).not.toBe(npm.pid);

    const session = (await (await fetch(`${url}/api/chat`, { method: 'POST' })).json()) as { session_id: string };
    gemini.reset();
    // The reply's first chunk goes out, then the LLM holds the rest while the signal arrives.
    const held = gemini.holdAfter(1);
    const streamed = postStream(`${url}/api/chat/${session.session_id}/message`, { message: 'stream through a shutdown' });
    await held;
    npm.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(apiPid)).toBe(true); // still draining the stream
    gemini.release();

    const result = await streamed;
    const done = eventsNamed<{ history: Array<{ content: string }> }>(result, 'done');
    expect(done).toHaveLength(1);
    expect(done[0]!.history.map((m) => m.content)).toEqual(['stream through a shutdown', 'You said: stream through a shutdown']);

    await npmExited;
    const deadline = Date.now() + 15_000;
    while (alive(apiPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(apiPid), `the API (pid ${apiPid}) outlived npm start`).toBe(false);
    expect(out).toMatch(/"signal":"SIGTERM".*shutting down/);
  }, 90_000);
});
