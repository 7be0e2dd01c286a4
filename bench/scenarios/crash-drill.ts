// Scenario 9: the crash drill. An API process of its own on a fresh database, 30 posts in flight to 5
// sessions (each with an Idempotency-Key), kill -9 once a few have been answered, then a restart on
// the same data. Measured from the restart: until the API answers, and until every reply's audio URL
// answers 200, with the clients whose answer was lost retrying with their key. No backfill is run.
// Also counted: what the crash cut off, and the duplicates the retries made (there must be none).
//
// Alone: `node --import tsx bench/scenarios/crash-drill.ts --runs 3` (BENCH_DATABASE_URL for PostgreSQL).
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startPeers, type Peers } from '../peers.ts';
import { startApi } from '../api-process.ts';
import { sleep } from '../context.ts';
import { createBenchDatabase } from '../seed.ts';
import { summarize, type Stat } from '../stats.ts';

export const DRILL_POSTS = 30;
const DRILL_SESSIONS = 5;
/** The API is killed once this many posts have been answered. */
const ANSWERED_BEFORE_CRASH = 3;
const GIVE_UP_MS = 120_000;

export interface CrashDrillRun {
  /** Posts answered 200 before the crash; the others saw their connection drop. */
  answered: number;
  /** Exchanges the crash left saved but unanswered: a retry without a key would post them twice. */
  savedUnanswered: number;
  /** Retries that got 409 because the dead process still held their key. */
  conflicts: number;
  /** Messages stored more than once after the retries (must be 0). */
  duplicates: number;
  /** From spawning the new process to its /healthz. */
  restartToReadyMs: number;
  /** From spawning the new process to the last audio URL answering 200. */
  restartToAllAudioMs: number;
}

export interface CrashDrillResult {
  database: 'pglite' | 'postgres';
  runs: CrashDrillRun[];
  restartToReadyMs: Stat;
  restartToAllAudioMs: Stat;
}

interface Message {
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}

export async function crashDrill(opts: {
  peers: Peers;
  postgresUrl: string | undefined;
  runs: number;
  log(line: string): void;
}): Promise<CrashDrillResult> {
  const runs: CrashDrillRun[] = [];
  let kind: 'pglite' | 'postgres' = 'pglite';
  for (let run = 1; run <= opts.runs; run++) {
    const database = await createBenchDatabase(opts.postgresUrl);
    kind = database.kind;
    try {
      runs.push(await drillOnce({ ...opts.peers.apiEnv, ...database.apiEnv }, run));
      const last = runs.at(-1)!;
      opts.log(`crash drill ${run}: ${(last.restartToAllAudioMs / 1000).toFixed(1)} s from restart to every audio URL`);
    } finally {
      await database.destroy();
    }
  }
  return {
    database: kind,
    runs,
    restartToReadyMs: summarize(runs.map((r) => r.restartToReadyMs)),
    restartToAllAudioMs: summarize(runs.map((r) => r.restartToAllAudioMs)),
  };
}

async function drillOnce(env: Record<string, string>, run: number): Promise<CrashDrillRun> {
  const json = async <T>(res: Response) => (await res.json()) as T;
  const first = await startApi(env);
  const sessions: string[] = [];
  for (let i = 0; i < DRILL_SESSIONS; i++) {
    sessions.push((await json<{ session_id: string }>(await fetch(`${first.url}/api/chat`, { method: 'POST' }))).session_id);
  }
  const posts = Array.from({ length: DRILL_POSTS }, (_, n) => ({
    sessionId: sessions[n % DRILL_SESSIONS]!,
    message: `Crash drill ${run}, message ${n}: what happens to me?`,
    key: `drill-${run}-${n}-${Date.now()}`,
  }));
  const post = (base: string, p: (typeof posts)[number]) =>
    fetch(`${base}/api/chat/${p.sessionId}/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': p.key },
      body: JSON.stringify({ message: p.message }),
    });

  let answered = 0;
  const outcomes = posts.map((p) =>
    post(first.url, p).then(
      async (res) => {
        await res.arrayBuffer();
        if (res.status === 200) answered++;
        return res.status === 200;
      },
      () => false,
    ),
  );
  const crashBy = Date.now() + GIVE_UP_MS;
  while (answered < ANSWERED_BEFORE_CRASH && Date.now() < crashBy) await sleep(5);
  await first.crash();
  const ok = await Promise.all(outcomes);

  const restartAt = performance.now();
  const second = await startApi(env);
  const restartToReadyMs = performance.now() - restartAt;
  try {
    const history = async (id: string) => (await json<{ history: Message[] }>(await fetch(`${second.url}/api/chat/${id}`))).history;
    let saved = 0;
    for (const id of sessions) saved += (await history(id)).length / 2;

    // Clients that lost their answer retry with their key; 409 while the dead process's claim lasts.
    let conflicts = 0;
    await Promise.all(
      posts.map(async (p, n) => {
        if (ok[n]) return;
        while (performance.now() - restartAt < GIVE_UP_MS) {
          const res = await post(second.url, p);
          await res.arrayBuffer();
          if (res.status === 200) return;
          if (res.status !== 409) throw new Error(`a retry answered ${res.status}`);
          conflicts++;
          await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
        }
        throw new Error('a retry got no answer within the time limit');
      }),
    );

    const messages = (await Promise.all(sessions.map(history))).flat();
    const userMessages = messages.filter((m) => m.role === 'user').map((m) => m.content);
    const duplicates = userMessages.length - new Set(userMessages).size;
    let missing = messages.filter((m) => m.role === 'model').map((m) => m.audio_url!);
    while (missing.length > 0) {
      if (performance.now() - restartAt > GIVE_UP_MS) throw new Error(`${missing.length} audio URLs still missing after ${GIVE_UP_MS} ms`);
      const found = await Promise.all(missing.map(async (u) => (await fetch(u, { method: 'HEAD' })).status === 200));
      missing = missing.filter((_, i) => !found[i]);
      if (missing.length > 0) await sleep(50);
    }
    const restartToAllAudioMs = performance.now() - restartAt;
    return {
      answered: ok.filter(Boolean).length,
      savedUnanswered: saved - ok.filter(Boolean).length,
      conflicts,
      duplicates,
      restartToReadyMs,
      restartToAllAudioMs,
    };
  } finally {
    await second.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be an integer >= 1, got ${values.runs}`);
  const t0 = performance.now();
  const log = (line: string) => console.error(`[crash drill ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  // The main benchmark's Polly latency, so that replies are still being voiced when the process dies.
  const peers = await startPeers({ baseMs: 150, perCharMs: 0.05 });
  try {
    const result = await crashDrill({ peers, postgresUrl: process.env.BENCH_DATABASE_URL || undefined, runs, log });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await peers.close();
  }
}
