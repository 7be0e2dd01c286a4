// A reply's audio whose outcome could not be written because the database went away in between: the
// synthesis finished while PostgreSQL was down, so the job's row still said this (live) instance held
// it, and nobody would have taken it up again until its claim ran out after 10 minutes. The worker
// must finish it as soon as the database is back, without synthesizing it again.
//
// In process (test-app.ts), on a private PostgreSQL server that the test stops and starts, with the
// Polly server holding the synthesis until the database is down.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { speechTestEnv } from '../support/aws-env.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { findPostgresBinaries, NO_POSTGRES_REASON, startPostgresServer, type PostgresServer } from '../support/postgres-server.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const binaries = findPostgresBinaries();

describe.skipIf(!binaries)(`reply audio through a database outage (${binaries ? `private PostgreSQL ${binaries.version}` : `skipped: ${NO_POSTGRES_REASON}`})`, () => {
  let server: PostgresServer;
  let s3: S3TestServer;
  let polly: PollyServer;
  let t: TestApp;
  beforeAll(async () => {
    [server, s3, polly] = await Promise.all([startPostgresServer(), startS3Server(), startPollyServer()]);
    const url = server.url;
    t = await startTestApp(
      {
        ...speechTestEnv({ s3, polly }),
        // The POST answers with audio_url null at once; its job goes on.
        SPEECH_TIMEOUT_MS: '100',
      },
      {
        reuse: { database: { open: () => openDatabase({ url }), drop: async () => {} }, dataDir: mkdtempSync(path.join(tmpdir(), 'audio-outage-')) },
        // The worker looks for due jobs every 200 ms rather than every second.
        wiring: { audioJobs: { pollMs: 200 } },
      },
    );
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([server?.destroy(), s3?.close(), polly?.close()]);
  });

  it('finishes a job whose synthesis ended during the outage as soon as the database is back', async () => {
    const session = (await t.app.inject({ method: 'POST', url: '/api/chat' })).json().session_id as string;
    const held = polly.hold();
    const posted = await t.app.inject({ method: 'POST', url: `/api/chat/${session}/message`, payload: { message: 'said while the database goes away' } });
    expect(posted.statusCode).toBe(200);
    expect(posted.json().history[1].audio_url).toBeNull();
    while (held.waiting === 0) await sleep(20);

    await server.stop();
    // The synthesis ends and the MP3 is stored while PostgreSQL is down: deleting the job fails.
    held.release();
    const unrecorded = () => t.logs.some((line) => String(line.msg).startsWith('could not record the outcome of a reply audio job'));
    while (!unrecorded()) await sleep(20);
    const synthesized = polly.synthRequests.length;
    await server.start();

    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      // Gone within seconds, not after the 10 minutes its claim would have held it.
      for (let waited = 0; (await admin.query('select 1 from audio_jobs')).rowCount !== 0; waited += 100) {
        expect(waited, 'the job is still there').toBeLessThan(15_000);
        await sleep(100);
      }
    } finally {
      await admin.end();
    }
    // Its audio was stored during the outage: the second run found it, and synthesized nothing.
    expect(polly.synthRequests.length).toBe(synthesized);
    const read = await t.app.inject({ method: 'GET', url: `/api/chat/${session}` });
    const audioUrl = read.json().history[1].audio_url as string;
    expect((await fetch(audioUrl)).status).toBe(200);
  }, 60_000);
});
