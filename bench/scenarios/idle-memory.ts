// Scenario 13: what the API holds at rest after one message. The API starts with the defaults a
// first-time user gets (offline LLM, eSpeak, audio in files; nothing but DATA_DIR set), one message
// is posted and its reply voiced by eSpeak, the process is left idle, collects its garbage (through
// the inspector), and its RSS is read. Three starts: the embedded database on a fresh DATA_DIR (its
// first start creates the database), the same DATA_DIR started again (reopened), and PostgreSQL
// (DATABASE_URL; BENCH_DATABASE_URL names the server, else that row is skipped). The peak (VmHWM) is
// the process's own over its whole life: a child it spawned is not counted.
//
// `npm run bench` runs it after the crash drill; `node --import tsx bench/scenarios/idle-memory.ts
// [--runs 3]` runs it alone and prints its figures as JSON. Runs interleave the three starts, so that
// other work on the machine spreads over all of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ESPEAK_IDLE_MS } from '../../src/speech/engines/espeak/espeak-synthesizer.ts';
import { startApi } from '../api-process.ts';
import { sleep } from '../context.ts';
import { createSession, postMessage } from '../http.ts';
import { createBenchDatabase } from '../seed.ts';
import type { Target } from '../report.ts';
import { summarize, type Stat } from '../stats.ts';

/** The target for the embedded database, fresh or reopened. */
export const IDLE_TARGET_BYTES = 400 * 1024 * 1024;

/**
 * How long the process is left alone after the message before memory is read: a little longer than
 * the eSpeak workers' idle time, after which they exit, so that what is read is what an idle API
 * holds, not what the last reply left warm. (--smoke waits 1 s: the workers are still there.)
 */
export const IDLE_WAIT_MS = ESPEAK_IDLE_MS + 3_000;

export type IdleStart = 'embedded, fresh' | 'embedded, reopened' | 'postgres';

export interface IdleSample {
  /** RSS after the idle wait and a full GC (bytes). */
  rssBytes: number;
  /**
   * RSS after the idle wait, before that GC: what the process holds as it is. An idle process
   * allocates nothing, so V8 may not collect for a long time, and garbage it holds (a closed
   * WebAssembly instance's memory included) stays resident.
   */
  rssBeforeGcBytes: number;
  /** VmHWM: the process's peak RSS since it started (bytes). */
  peakBytes: number;
  /** V8 heap in use after that GC (bytes). */
  heapUsedBytes: number;
  /** From spawning the process to its /healthz (ms). */
  startMs: number;
}

export interface IdleRow {
  start: IdleStart;
  samples: IdleSample[];
  rssBytes: Stat;
  rssBeforeGcBytes: Stat;
  peakBytes: Stat;
  heapUsedBytes: Stat;
  startMs: Stat;
}

export interface IdleMemoryResult {
  rows: IdleRow[];
  /** Why the PostgreSQL row is missing, when it is. */
  skipped?: string;
  idleWaitMs: number;
}

/** One start: the API on `env`, one message voiced by eSpeak, idle, GC, memory. */
async function measureOnce(env: Record<string, string>, message: string, idleWaitMs: number): Promise<IdleSample> {
  const t0 = performance.now();
  const api = await startApi({ LOG_LEVEL: 'warn', ...env });
  const startMs = performance.now() - t0;
  try {
    const session = await createSession(api.url);
    const res = await postMessage(api.url, session, message);
    if (!res.body.history.at(-1)?.audio_url) throw new Error('the reply came back without audio');
    await sleep(idleWaitMs);
    const rssBeforeGcBytes = api.memory().rss;
    const heapUsedBytes = await api.collectGarbage();
    await sleep(200);
    const { rss, peak } = api.memory();
    return { rssBytes: rss, rssBeforeGcBytes, peakBytes: peak, heapUsedBytes, startMs };
  } finally {
    await api.stop();
  }
}

export async function idleMemory(opts: {
  postgresUrl: string | undefined;
  runs: number;
  idleWaitMs?: number;
  log(line: string): void;
}): Promise<IdleMemoryResult> {
  const idleWaitMs = opts.idleWaitMs ?? IDLE_WAIT_MS;
  const samples = new Map<IdleStart, IdleSample[]>([
    ['embedded, fresh', []],
    ['embedded, reopened', []],
    ['postgres', []],
  ]);
  const skipped = opts.postgresUrl ? undefined : 'no BENCH_DATABASE_URL: the PostgreSQL row needs a server';
  if (skipped) opts.log(`  idle memory: PostgreSQL skipped (${skipped})`);
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
  const record = (start: IdleStart, s: IdleSample) => {
    samples.get(start)!.push(s);
    opts.log(`  idle memory: ${start}: RSS ${mb(s.rssBytes)} (before the GC ${mb(s.rssBeforeGcBytes)}), peak ${mb(s.peakBytes)}, heap ${mb(s.heapUsedBytes)}`);
  };
  for (let run = 1; run <= opts.runs; run++) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-idle-'));
    try {
      record('embedded, fresh', await measureOnce({ DATA_DIR: dataDir }, `Idle memory, run ${run}: hello`, idleWaitMs));
      record('embedded, reopened', await measureOnce({ DATA_DIR: dataDir }, `Idle memory, run ${run}: hello again`, idleWaitMs));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (opts.postgresUrl) {
      const database = await createBenchDatabase(opts.postgresUrl);
      try {
        record('postgres', await measureOnce({ DATA_DIR: database.apiEnv.DATA_DIR!, DATABASE_URL: database.apiEnv.DATABASE_URL! }, `Idle memory, run ${run}: hello`, idleWaitMs));
      } finally {
        await database.destroy();
      }
    }
  }
  const rows: IdleRow[] = [...samples]
    .filter(([, s]) => s.length > 0)
    .map(([start, s]) => ({
      start,
      samples: s,
      rssBytes: summarize(s.map((x) => x.rssBytes)),
      rssBeforeGcBytes: summarize(s.map((x) => x.rssBeforeGcBytes)),
      peakBytes: summarize(s.map((x) => x.peakBytes)),
      heapUsedBytes: summarize(s.map((x) => x.heapUsedBytes)),
      startMs: summarize(s.map((x) => x.startMs)),
    }));
  return { rows, ...(skipped ? { skipped } : {}), idleWaitMs };
}

/** The target (embedded, fresh and reopened, ≤ 400 MB) and the PostgreSQL figure beside it. */
export function idleMemoryTargets(result: IdleMemoryResult, smoke: boolean): Target[] {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  return result.rows.map((r) => {
    const embedded = r.start !== 'postgres';
    return {
      name: `Idle RSS after one message (eSpeak), ${r.start}`,
      measured: `${mb(r.rssBytes.median)} (peak ${mb(r.peakBytes.median)}), median of ${r.samples.length}`,
      target: embedded ? `≤ ${IDLE_TARGET_BYTES / 1024 / 1024} MB` : 'reported',
      // --smoke does not wait for the eSpeak workers to exit: not an idle process yet.
      met: embedded && !smoke ? r.rssBytes.median <= IDLE_TARGET_BYTES : undefined,
    };
  });
}

/** The scenario's section of the report (markdown). */
export function renderIdleMemory(result: IdleMemoryResult): string {
  const mb = (s: Stat) => `${(s.median / 1024 / 1024).toFixed(0)} [${(s.p25 / 1024 / 1024).toFixed(0)}–${(s.p75 / 1024 / 1024).toFixed(0)}]`;
  const lines = [
    `### 13. Idle memory after one message (offline LLM, eSpeak, files; idle ${result.idleWaitMs / 1000} s, then a full GC)`,
    '',
    '| start | RSS after the GC MB | RSS before it MB | peak (VmHWM) MB | V8 heap in use MB | start to /healthz ms | runs |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of result.rows) {
    lines.push(
      `| ${r.start} | ${mb(r.rssBytes)} | ${mb(r.rssBeforeGcBytes)} | ${mb(r.peakBytes)} | ${mb(r.heapUsedBytes)} | ${r.startMs.median.toFixed(0)} | ${r.samples.length} |`,
    );
  }
  lines.push('');
  if (result.skipped) lines.push(`PostgreSQL skipped: ${result.skipped}.`, '');
  if (result.idleWaitMs < ESPEAK_IDLE_MS) {
    lines.push(`Idle for less than the eSpeak workers' ${ESPEAK_IDLE_MS / 1000} s: they are still there, so this is not the idle figure.`, '');
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'idle-ms': { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be an integer >= 1, got ${values.runs}`);
  const idleWaitMs = values['idle-ms'] === undefined ? undefined : Number(values['idle-ms']);
  const t0 = performance.now();
  const log = (line: string) => console.error(`[idle memory ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  const result = await idleMemory({ postgresUrl: process.env.BENCH_DATABASE_URL || undefined, runs, idleWaitMs, log });
  console.log(JSON.stringify(result, null, 2));
  console.error(renderIdleMemory(result));
  for (const t of idleMemoryTargets(result, false)) console.error(`${t.name}: ${t.measured}; target ${t.target}; met: ${t.met ?? '—'}`);
}
