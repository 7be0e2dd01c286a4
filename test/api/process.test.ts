// The process as an operator runs it: `node --import tsx src/main.ts` with only environment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi as startApi } from '../support/api-process.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';

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
});
