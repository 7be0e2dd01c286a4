// Scenario 14: does a second API process add throughput? Posts whose reply audio is already cached
// (the offline LLM, then the database, then one stat of the cached file: no synthesis), to one API
// process and then to two on the same PostgreSQL database, the requests dealt round-robin. Many
// sessions, so that the row lock that orders the posts of one session never makes them wait. The
// client keeps a fixed number of requests in flight and sends a fixed number of posts per run, so
// that the histories (which every POST answers with) end the same length in both configurations.
//
// The messages cycle through a set of distinct ones (the offline LLM gives each its own reply, voiced
// once before the runs), more than there are requests in flight: posts of one reply at the same time
// would meet on its audio job's row, and across processes one would poll for the other's job
// (speech/audio-jobs.ts waitForOther), which is single-flight doing its work, not what is measured.
//
// Both processes share DATA_DIR (the audio files), as two instances share one S3 bucket; during the
// one-instance runs the second process is up but gets no request. The CPU time that the API
// processes, PostgreSQL (every process named postgres on this machine, others' work included) and
// the client used during each run is read from /proc, to say where the time went.
//
// `npm run bench` runs it with BENCH_DATABASE_URL set (else it is skipped); alone:
// `BENCH_DATABASE_URL=postgres://... node --import tsx bench/scenarios/scale-out.ts [--reps 3]`.
import { Agent, request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { mapBounded } from '../../src/speech/bounded.ts';
import { startApi, type ApiProcess } from '../api-process.ts';
import { createSession, postMessage } from '../http.ts';
import type { Target } from '../report.ts';
import { createBenchDatabase } from '../seed.ts';
import { parseServerTiming, summarize, type Stat } from '../stats.ts';

const message = (i: number) => `Scale-out question ${i}: how does a second instance change the throughput?`;

export interface ScaleOutPlan {
  /** Measured runs per configuration, interleaved (1, 2, 1, 2, ...). */
  reps: number;
  /** Posts per run. */
  posts: number;
  /** Requests in flight at once, over all instances. */
  connections: number;
  /** New sessions per run, the posts dealt over them. */
  sessions: number;
  /** Distinct messages (and so replies, all cached) the posts cycle through; above `connections`. */
  replies: number;
}

export const SCALE_OUT_FULL: ScaleOutPlan = { reps: 3, posts: 3000, connections: 16, sessions: 200, replies: 48 };
export const SCALE_OUT_SMOKE: ScaleOutPlan = { reps: 1, posts: 200, connections: 8, sessions: 40, replies: 16 };

export interface ScaleOutRun {
  instances: 1 | 2;
  reqPerSec: number;
  latencyMs: Stat;
  /** Server-Timing of the posts: the database phases and the cache lookup. */
  dbAppendMs: Stat;
  speechMs: Stat;
  /** CPU seconds per second of the run (1 = one core busy). */
  cpu: { api: number; postgres: number; client: number };
}

export interface ScaleOutResult {
  skipped?: string;
  plan: ScaleOutPlan;
  cpus: number;
  runs: ScaleOutRun[];
  oneReqPerSec: Stat;
  twoReqPerSec: Stat;
  /** Median with two instances / median with one. */
  ratio: number;
}

/** utime + stime of a process, in seconds; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; 100 per second on Linux
  } catch {
    return 0;
  }
}

/** The CPU seconds of every process named postgres on this machine (the server and its backends). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/**
 * Sends `posts` posts, `connections` at a time, the k-th to instance k mod n, to session k mod
 * sessions, with message k mod replies. node:http with keep-alive rather than fetch, so that the
 * client takes less of the CPU.
 */
async function drive(apis: ApiProcess[], sessions: string[], replies: number, posts: number, connections: number) {
  const agents = apis.map(() => new Agent({ keepAlive: true, maxSockets: connections }));
  const bodies = Array.from({ length: replies }, (_, i) => JSON.stringify({ message: message(i) }));
  const latencies: number[] = [];
  const append: number[] = [];
  const speech: number[] = [];
  const post = (k: number) =>
    new Promise<void>((resolve, reject) => {
      const api = k % apis.length;
      const body = bodies[k % replies]!;
      const { hostname, port } = new URL(apis[api]!.url);
      const start = performance.now();
      const req = request(
        {
          host: hostname,
          port,
          method: 'POST',
          path: `/api/chat/${sessions[k % sessions.length]}/message`,
          agent: agents[api],
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`a post answered ${res.statusCode}`));
            latencies.push(performance.now() - start);
            const phases = parseServerTiming(String(res.headers['server-timing'] ?? ''));
            append.push(phases['db-append'] ?? NaN);
            speech.push(phases.speech ?? NaN);
            resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const cpuBefore = { api: apis.reduce((s, a) => s + cpuSeconds(a.pid), 0), postgres: postgresCpuSeconds(), client: process.cpuUsage() };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let k = next++; k < posts; k = next++) await post(k);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(cpuBefore.client);
  for (const agent of agents) agent.destroy();
  return {
    reqPerSec: posts / seconds,
    latencyMs: summarize(latencies),
    dbAppendMs: summarize(append),
    speechMs: summarize(speech),
    cpu: {
      api: (apis.reduce((s, a) => s + cpuSeconds(a.pid), 0) - cpuBefore.api) / seconds,
      postgres: (postgresCpuSeconds() - cpuBefore.postgres) / seconds,
      client: (client.user + client.system) / 1e6 / seconds,
    },
  };
}

export async function scaleOut(opts: { postgresUrl: string | undefined; plan: ScaleOutPlan; log(line: string): void }): Promise<ScaleOutResult> {
  const { plan, log } = opts;
  const empty = summarize([]);
  const cpus = availableParallelism();
  if (!opts.postgresUrl) {
    const skipped = 'no BENCH_DATABASE_URL: two API processes need a PostgreSQL server (PGlite allows one process)';
    log(`  scale-out: skipped (${skipped})`);
    return { skipped, plan, cpus, runs: [], oneReqPerSec: empty, twoReqPerSec: empty, ratio: NaN };
  }
  const database = await createBenchDatabase(opts.postgresUrl);
  const env = { LOG_LEVEL: 'warn', LLM_PROVIDER: 'offline', DATA_DIR: database.apiEnv.DATA_DIR!, DATABASE_URL: database.apiEnv.DATABASE_URL! };
  const apis: ApiProcess[] = [];
  try {
    if (plan.replies <= plan.connections) throw new Error('scale-out: --replies must be above the requests in flight');
    apis.push(await startApi(env), await startApi(env));
    // Each reply's audio is made once (eSpeak, two at a time as its two workers allow), by the
    // first process; from then on every post is a hit, in either process.
    log(`  scale-out: voicing ${plan.replies} replies`);
    const warm = await createSession(apis[0]!.url);
    await mapBounded(
      Array.from({ length: plan.replies }, (_, i) => i),
      2,
      async (i) => {
        const res = await postMessage(apis[0]!.url, warm, message(i));
        if (!res.body.history.at(-1)?.audio_url) throw new Error('a warm-up reply came back without audio');
      },
    );
    const newSessions = () => Promise.all(Array.from({ length: plan.sessions }, () => createSession(apis[0]!.url)));
    // Warm-up, not counted: the JIT and the connection pools of both processes.
    await drive(apis, await newSessions(), plan.replies, Math.min(plan.posts, 400), plan.connections);

    const runs: ScaleOutRun[] = [];
    for (let rep = 1; rep <= plan.reps; rep++) {
      for (const instances of [1, 2] as const) {
        const run = { instances, ...(await drive(apis.slice(0, instances), await newSessions(), plan.replies, plan.posts, plan.connections)) };
        runs.push(run);
        log(
          `  scale-out ${rep}/${plan.reps}, ${instances} instance${instances === 1 ? '' : 's'}: ${run.reqPerSec.toFixed(0)} req/s ` +
            `(CPU: API ${run.cpu.api.toFixed(2)}, PostgreSQL ${run.cpu.postgres.toFixed(2)}, client ${run.cpu.client.toFixed(2)} cores)`,
        );
      }
    }
    const oneReqPerSec = summarize(runs.filter((r) => r.instances === 1).map((r) => r.reqPerSec));
    const twoReqPerSec = summarize(runs.filter((r) => r.instances === 2).map((r) => r.reqPerSec));
    return { plan, cpus, runs, oneReqPerSec, twoReqPerSec, ratio: twoReqPerSec.median / oneReqPerSec.median };
  } finally {
    await Promise.all(apis.map((api) => api.stop()));
    await database.destroy();
  }
}

export function scaleOutTarget(result: ScaleOutResult): Target {
  return {
    name: 'Posts with a cached reply on PostgreSQL, two API processes / one',
    measured: result.skipped
      ? `skipped (${result.skipped})`
      : `${result.ratio.toFixed(2)}× (${result.twoReqPerSec.median.toFixed(0)} / ${result.oneReqPerSec.median.toFixed(0)} req/s, ${result.cpus} cores)`,
    target: 'reported',
    met: undefined,
  };
}

/** The scenario's section of the report (markdown). */
export function renderScaleOut(result: ScaleOutResult): string {
  const { plan } = result;
  const lines = [
    `### 14. Posts with a cached reply: one API process against two on one PostgreSQL (${plan.posts.toLocaleString('en-US')} posts per run, ` +
      `${plan.connections} in flight, ${plan.sessions} sessions, ${plan.replies} distinct replies)`,
    '',
  ];
  if (result.skipped) return [...lines, `Skipped: ${result.skipped}.`, ''].join('\n');
  const stat = (s: Stat, digits = 0) => `${s.median.toFixed(digits)} [${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)}]`;
  const median = (values: number[]) => summarize(values).median.toFixed(2);
  lines.push(
    '| instances | req/s | latency ms | db-append ms | speech ms | CPU cores: API | PostgreSQL | client | runs |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const n of [1, 2] as const) {
    const runs = result.runs.filter((r) => r.instances === n);
    lines.push(
      `| ${n} | ${stat(summarize(runs.map((r) => r.reqPerSec)))} | ${stat(summarize(runs.map((r) => r.latencyMs.median)), 1)} | ` +
        `${stat(summarize(runs.map((r) => r.dbAppendMs.median)), 2)} | ${stat(summarize(runs.map((r) => r.speechMs.median)), 2)} | ` +
        `${median(runs.map((r) => r.cpu.api))} | ${median(runs.map((r) => r.cpu.postgres))} | ${median(runs.map((r) => r.cpu.client))} | ${runs.length} |`,
    );
  }
  lines.push('', `Two instances / one: **${result.ratio.toFixed(2)}×** on ${result.cpus} cores.`);
  const two = result.runs.filter((r) => r.instances === 2);
  const cores = (pick: (r: ScaleOutRun) => number) => summarize(two.map(pick)).median;
  const api = cores((r) => r.cpu.api);
  const postgres = cores((r) => r.cpu.postgres);
  const client = cores((r) => r.cpu.client);
  if (result.ratio < 1.25) {
    lines.push(
      `Near 1: with two instances the API processes used ${api.toFixed(2)} cores, PostgreSQL ${postgres.toFixed(2)} and the client ` +
        `${client.toFixed(2)}, ${(api + postgres + client).toFixed(2)} of the machine's ${result.cpus}. The second process does not add CPU, ` +
        'it shares the same cores with the first and with the database, so on this machine the database server and the API are ' +
        'one pool of CPU, and that pool is the limit, not one Node process.',
    );
  }
  lines.push('');
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean' },
      reps: { type: 'string' },
      posts: { type: 'string' },
      connections: { type: 'string' },
      sessions: { type: 'string' },
      replies: { type: 'string' },
    },
  });
  const base = values.smoke ? SCALE_OUT_SMOKE : SCALE_OUT_FULL;
  const int = (name: keyof ScaleOutPlan) => {
    const raw = values[name];
    if (raw === undefined) return base[name];
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1, got ${raw}`);
    return value;
  };
  const plan: ScaleOutPlan = { reps: int('reps'), posts: int('posts'), connections: int('connections'), sessions: int('sessions'), replies: int('replies') };
  const t0 = performance.now();
  const log = (line: string) => console.error(`[scale-out ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  const result = await scaleOut({ postgresUrl: process.env.BENCH_DATABASE_URL || undefined, plan, log });
  console.log(JSON.stringify(result, null, 2));
  console.error(renderScaleOut(result));
}
