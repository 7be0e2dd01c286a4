// Scenario 12: what the Prometheus instrumentation costs GET /api/chat/{id} at 100 messages. API
// processes side by side on copies of the seeded database (as in the auth scenario, whose lesson
// applies: one process per variant, or the busier one keeps warmer caches), the same environment in
// each, and only the wiring knob differs:
//   - off: WiringOverrides.metrics = false, no prom-client at all (no hook, no process metrics);
//   - on: the product as deployed, with the onResponse hook, the decorators and the process metrics
//     (event-loop delay monitor, GC observer), scraped between its load runs;
//   - control: off again, in a third process: its gap to the first says how much two processes
//     differ when they do the same work, which is the size of the 3% budget on a shared machine.
// The knob is not an environment variable, so each process runs this file in --serve mode: the
// product built as src/main.ts builds it, with the knob set. The variants take turns in a shuffled
// order, one request at a time (in blocks, each process's CPU time read around every block) and then
// in one-second autocannon runs, so that a slow spell of the machine lands on all of them. The target
// is judged on CPU time per request one at a time: the instrumentation adds work, and the work per
// request is what other tenants of the machine disturb least. The hook's own work is also timed alone.
//
// `npm run bench` runs it right after the auth scenario, before the main API opens the database;
// `node --import tsx bench/scenarios/metrics-overhead.ts [--smoke] [--samples 500] [--reps 3]
// [--duration 3] [--connections 4]` runs it alone, on a database of its own, and prints its figures
// (reps × duration one-second runs per variant).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { buildApp, loggerOptions } from '../../src/app.ts';
import { loadConfigOrExit } from '../../src/config/env.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { wireProduct } from '../../src/wiring.ts';
import { startApi, type ApiProcess } from '../api-process.ts';
import { sleep } from '../context.ts';
import { getSession } from '../http.ts';
import { startPeers, type Peers } from '../peers.ts';
import type { Target } from '../report.ts';
import { createBenchDatabase, seedSessions, type BenchDatabase, type BenchFork } from '../seed.ts';
import { seededRandom, shuffled, summarize, type Stat } from '../stats.ts';

/** The history length read, in messages. */
export const METRICS_SIZE = 100;
/** The budget: instrumentation may add at most this much. */
export const METRICS_BUDGET = 0.03;

type VariantName = 'off' | 'on' | 'control';
const VARIANTS: ReadonlyArray<{ name: VariantName; label: string; metrics: boolean }> = [
  { name: 'off', label: 'metrics off (WiringOverrides.metrics = false)', metrics: false },
  { name: 'on', label: 'metrics on (as deployed)', metrics: true },
  { name: 'control', label: 'control: metrics off, another process', metrics: false },
];

export interface MetricsVariant {
  name: VariantName;
  label: string;
  /** One request at a time (ms), in turns with the other variants. */
  sequentialMs: Stat;
  /**
   * The process's CPU time (all its threads) per request while they are sent one at a time, in turns
   * (ms), one value per block of turns: every variant runs under the same conditions.
   */
  cpuMsPerRequest: Stat;
  /** Per autocannon run. */
  reqPerSec: Stat;
  latencyP50: Stat;
  latencyP99: Stat;
  /** CPU time per request under load (ms), per autocannon run. */
  loadCpuMsPerRequest: Stat;
}

export interface MetricsGap {
  /** Median one at a time / off's, minus 1. */
  ofMedian: number;
  /** The same difference in ms. */
  medianDeltaMs: number;
  /** Time per request under load (1 / req/s) / off's, minus 1. */
  byThroughput: number;
  /** CPU time per request, one at a time in turns / off's, minus 1: the work added. */
  byCpu: number;
  /** The same under load (autocannon runs, which take turns by the second). */
  byLoadCpu: number;
}

export interface MetricsOverheadResult {
  size: number;
  samples: number;
  /** One-second autocannon runs per variant: the plan's reps × duration. */
  loadRuns: number;
  connections: number;
  /** off, on, control. */
  variants: MetricsVariant[];
  /** on against off: what the instrumentation costs. */
  overhead: MetricsGap;
  /** control against off: two processes doing the same work. */
  control: MetricsGap;
  /** The history GETs the on process counted in http_request_duration_seconds, and the ones it answered. */
  counted: { histogram: number; answered: number };
  /** What the onResponse hook records, alone, in the benchmark's own process: µs per call, per batch. */
  hookAloneUs: Stat;
  /** GET /metrics on the on process, at the client (ms): once per scrape interval in production. */
  scrapeMs: Stat;
}

export interface MetricsOverheadInput {
  database: BenchDatabase;
  peers: Peers;
  /** A session of METRICS_SIZE messages whose owner is the local admin (AUTH_MODE=none). */
  sessionId: string;
  /** One-at-a-time GETs per variant. */
  samples: number;
  /** The plan's autocannon runs and their length: reps × durationSec runs of one second per variant. */
  reps: number;
  durationSec: number;
  connections: number;
  log(line: string): void;
}

/** Must run while no other process has the database open (PGlite): it forks it, once per variant. */
export async function metricsOverhead(input: MetricsOverheadInput): Promise<MetricsOverheadResult> {
  const { database, peers, sessionId, samples, reps, durationSec, connections, log } = input;
  const path = `/api/chat/${sessionId}`;
  const forks: BenchFork[] = [];
  const servers: ApiProcess[] = [];
  try {
    log(`  metrics: starting ${VARIANTS.length} APIs: ${VARIANTS.map((v) => v.name).join(', ')}`);
    for (let i = 0; i < VARIANTS.length; i++) forks.push(database.fork());
    const started = await Promise.allSettled(VARIANTS.map((v, i) => startServer({ ...peers.apiEnv, ...forks[i]!.apiEnv }, v.metrics)));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const apis = VARIANTS.map((v, i) => ({ ...v, url: servers[i]!.url, pid: servers[i]!.pid }));
    const on = apis.find((a) => a.name === 'on')!;
    // The knob does what it says before anything is timed.
    for (const api of apis) {
      const res = await fetch(`${api.url}/metrics`);
      await res.arrayBuffer();
      if (res.status !== (api.metrics ? 200 : 404)) throw new Error(`GET /metrics on ${api.name} answered ${res.status}`);
    }

    log(`  metrics: warm-up, ${durationSec} s of autocannon on every process at once`);
    await Promise.all(apis.map((api) => load(api.url, path, connections, durationSec)));
    await sleep(200);
    const answeredBefore = await countedGets(on.url);

    log(`  metrics: ${samples} GETs per variant, one at a time, in turns`);
    const random = seededRandom(12);
    const sequential = new Map<VariantName, number[]>(apis.map((a) => [a.name, []]));
    const sequentialCpu = new Map<VariantName, number[]>(apis.map((a) => [a.name, []]));
    let answered = 0;
    const blockSize = Math.ceil(samples / Math.min(10, samples));
    for (let first = 0; first < samples; first += blockSize) {
      const turns = Math.min(blockSize, samples - first);
      const before = apis.map((api) => cpuMs(api.pid));
      for (let i = 0; i < turns; i++) {
        for (const api of shuffled(apis, random)) {
          const res = await getSession(api.url, sessionId);
          if (res.body.history.length < METRICS_SIZE - 1) throw new Error(`the session returned ${res.body.history.length} messages`);
          sequential.get(api.name)!.push(res.ms);
          if (api === on) answered++;
        }
      }
      apis.forEach((api, i) => sequentialCpu.get(api.name)!.push((cpuMs(api.pid) - before[i]!) / turns));
    }

    // The plan's reps × duration seconds of load per variant, in runs of one second, so that the
    // variants take turns often and a slow spell of the machine lands on all of them.
    const loadRuns = reps * durationSec;
    log(`  metrics: ${loadRuns} × 1 s of autocannon per variant, in turns`);
    const runs = new Map<VariantName, { reqPerSec: number[]; p50: number[]; p99: number[]; cpu: number[] }>(
      apis.map((a) => [a.name, { reqPerSec: [], p50: [], p99: [], cpu: [] }]),
    );
    const scrapes: number[] = [];
    for (let run = 0; run < loadRuns; run++) {
      for (const api of shuffled(apis, random)) {
        if (api === on) {
          // As Prometheus would, now and then; outside the measured run, whose CPU time it would
          // otherwise inflate by a scrape every few seconds instead of every 15 s or more.
          const start = performance.now();
          await (await fetch(`${on.url}/metrics`)).arrayBuffer();
          scrapes.push(performance.now() - start);
        }
        const cpuBefore = cpuMs(api.pid);
        const result = await load(api.url, path, connections, 1);
        const cpu = cpuMs(api.pid) - cpuBefore;
        if (api === on) answered += result.requests.total;
        const r = runs.get(api.name)!;
        r.reqPerSec.push(result.requests.total / result.duration);
        r.p50.push(result.latency.p50);
        r.p99.push(result.latency.p99);
        r.cpu.push(cpu / result.requests.total);
      }
    }
    await sleep(200);
    const histogram = (await countedGets(on.url)) - answeredBefore;
    const hookAloneUs = await hookAloneInChild(Math.max(3, Math.round(samples / 10)));

    const variants: MetricsVariant[] = apis.map((api) => {
      const r = runs.get(api.name)!;
      return {
        name: api.name,
        label: api.label,
        sequentialMs: summarize(sequential.get(api.name)!),
        reqPerSec: summarize(r.reqPerSec),
        latencyP50: summarize(r.p50),
        latencyP99: summarize(r.p99),
        cpuMsPerRequest: summarize(sequentialCpu.get(api.name)!),
        loadCpuMsPerRequest: summarize(r.cpu),
      };
    });
    const [off, onRow, control] = variants as [MetricsVariant, MetricsVariant, MetricsVariant];
    const gap = (v: MetricsVariant): MetricsGap => ({
      ofMedian: v.sequentialMs.median / off.sequentialMs.median - 1,
      medianDeltaMs: v.sequentialMs.median - off.sequentialMs.median,
      byThroughput: off.reqPerSec.median / v.reqPerSec.median - 1,
      byCpu: v.cpuMsPerRequest.median / off.cpuMsPerRequest.median - 1,
      byLoadCpu: v.loadCpuMsPerRequest.median / off.loadCpuMsPerRequest.median - 1,
    });
    return {
      size: METRICS_SIZE,
      samples,
      loadRuns,
      connections,
      variants,
      overhead: gap(onRow),
      control: gap(control),
      counted: { histogram, answered },
      hookAloneUs,
      scrapeMs: summarize(scrapes),
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const fork of forks) fork.destroy();
  }
}

/** The count of http_request_duration_seconds for the history GET, read from the on process's /metrics. */
async function countedGets(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = 'http_request_duration_seconds_count{method="GET",route="/api/chat/:session_id",status_code="200"} ';
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.slice(series.length)) : 0;
}

/**
 * A process's CPU time so far (ms): the time each of its threads has run, from the scheduler's
 * statistics in nanoseconds (/proc/<pid>/stat counts in 10 ms ticks, too coarse for a block of
 * requests). The threads of the API live as long as it does (main, libuv's pool, V8's helpers), so
 * none is lost between two readings.
 */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the reading.
    }
  }
  return ns / 1e6;
}

/**
 * hookAlone() in a process of its own: a registry starts the process metrics (an event-loop delay
 * monitor, a GC observer) for the rest of the process's life, which the benchmark's own must not have.
 */
async function hookAloneInChild(batches: number): Promise<Stat> {
  const child = spawn(process.execPath, ['--import', TSX, SELF, '--hook-alone', String(batches)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`--hook-alone exited with ${String(code)}`);
  return JSON.parse(out) as Stat;
}

/** metrics.httpRequest() for the history GET's labels, timed in batches of 1,000 after a warm-up. */
function hookAlone(batches: number): Stat {
  const metrics = createMetrics();
  const BATCH = 1_000;
  const record = (i: number) => metrics.httpRequest('GET', '/api/chat/:session_id', 200, 0.004 + (i % 10) / 1000);
  for (let i = 0; i < 20 * BATCH; i++) record(i);
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < BATCH; i++) record(i);
    perCall.push(((performance.now() - start) * 1000) / BATCH);
  }
  return summarize(perCall);
}

async function load(url: string, path: string, connections: number, duration: number) {
  const result = await autocannon({ url, connections, duration, requests: [{ method: 'GET', path }] });
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(`GET ${path}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return result;
}

const pct = (fraction: number) => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`;
const stat = (s: Stat, digits: number) => `${s.median.toFixed(digits)} [${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)}]`;

/**
 * Judged on CPU time per request: what the instrumentation adds is work, and on a shared machine the
 * work a process does per request varies far less than its throughput or latency, which depend on
 * what else is running. Throughput and latency are reported beside it, with the control's gaps.
 */
export function metricsOverheadTarget(result: MetricsOverheadResult, smoke: boolean): Target {
  const { overhead, control } = result;
  return {
    name: `Metrics on vs off, GET at ${result.size} messages`,
    measured:
      `${pct(overhead.byCpu)} CPU per request; ${pct(overhead.ofMedian)} of the median one at a time; ` +
      `${pct(overhead.byThroughput)} by throughput (control, another process without metrics: ` +
      `${pct(control.byCpu)}; ${pct(control.ofMedian)}; ${pct(control.byThroughput)})`,
    target: `≤ ${METRICS_BUDGET * 100}% (CPU per request, one at a time)`,
    met: smoke ? undefined : overhead.byCpu <= METRICS_BUDGET,
  };
}

export function renderMetricsOverhead(result: MetricsOverheadResult): string {
  const off = result.variants[0]!;
  const versus = (v: MetricsVariant, gap: number) => (v === off ? '—' : pct(gap));
  const lines = [
    `### 12. Metrics: GET at ${result.size} messages, ${result.samples} one at a time and ${result.loadRuns} × 1 s ` +
      `(${result.connections} connections) per variant, in turns`,
    '',
    '| variant | CPU ms per request, one at a time | vs off | one at a time ms | vs off | req/s | time per request vs off | p50 ms | p99 ms | CPU ms per request under load | vs off |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const v of result.variants) {
    lines.push(
      `| ${v.label} | ${stat(v.cpuMsPerRequest, 3)} | ${versus(v, v.cpuMsPerRequest.median / off.cpuMsPerRequest.median - 1)} | ` +
        `${stat(v.sequentialMs, 3)} | ${versus(v, v.sequentialMs.median / off.sequentialMs.median - 1)} | ` +
        `${stat(v.reqPerSec, 0)} | ${versus(v, off.reqPerSec.median / v.reqPerSec.median - 1)} | ` +
        `${stat(v.latencyP50, 1)} | ${stat(v.latencyP99, 1)} | ` +
        `${stat(v.loadCpuMsPerRequest, 3)} | ${versus(v, v.loadCpuMsPerRequest.median / off.loadCpuMsPerRequest.median - 1)} |`,
    );
  }
  const hookShare = result.hookAloneUs.median / 1000 / off.sequentialMs.median;
  lines.push(
    '',
    `What the onResponse hook records, alone (metrics.httpRequest(), in the benchmark's process): ` +
      `${result.hookAloneUs.median.toFixed(2)} µs per call [${result.hookAloneUs.p25.toFixed(2)}–${result.hookAloneUs.p75.toFixed(2)}], ` +
      `${(hookShare * 100).toFixed(3)}% of off's median one at a time. A scrape of /metrics: ${stat(result.scrapeMs, 1)} ms.`,
    '',
    `The on process counted ${result.counted.histogram.toLocaleString('en-US')} history GETs in http_request_duration_seconds ` +
      `while it answered ${result.counted.answered.toLocaleString('en-US')} that the client saw complete.`,
    '',
  );
  return lines.join('\n');
}

// ---- the API processes ----

const SELF = fileURLToPath(import.meta.url);
/** tsx's loader as a file URL, so that it resolves from any working directory. */
const TSX = import.meta.resolve('tsx');

/** This file in --serve mode, started as bench/api-process.ts starts src/main.ts. */
function startServer(env: Record<string, string>, metrics: boolean): Promise<ApiProcess> {
  return startApi(env, { script: [SELF, '--serve', metrics ? 'on' : 'off'] });
}

/** The product as src/main.ts builds it (config, wiring, app, background work), with the knob set. */
async function serve(metrics: boolean): Promise<void> {
  const config = loadConfigOrExit();
  const log = pino(loggerOptions(config.logLevel));
  const product = await wireProduct(config, log, { metrics });
  const app = await buildApp(product.app, { logger: log });
  await product.startBackgroundWork();
  await app.listen({ port: config.port, host: config.host });
  process.once('SIGTERM', () => void app.close().finally(() => process.exit(0)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      'hook-alone': { type: 'string' },
      smoke: { type: 'boolean' },
      samples: { type: 'string' },
      reps: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
    },
  });
  if (values.serve !== undefined) {
    await serve(values.serve === 'on');
  } else if (values['hook-alone'] !== undefined) {
    process.stdout.write(JSON.stringify(hookAlone(Number(values['hook-alone']))));
  } else {
    const number = (raw: string | undefined, fallback: number) => {
      const value = raw === undefined ? fallback : Number(raw);
      if (!Number.isInteger(value) || value < 1) throw new Error(`flags take integers >= 1, got ${raw}`);
      return value;
    };
    const smoke = values.smoke === true;
    const t0 = performance.now();
    const log = (line: string) => console.error(`[metrics ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
    const peers = await startPeers({ baseMs: 0, perCharMs: 0 });
    const database = await createBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    try {
      const [sessionId] = await seedSessions(database, [METRICS_SIZE]);
      const result = await metricsOverhead({
        database,
        peers,
        sessionId: sessionId!,
        samples: number(values.samples, smoke ? 20 : 500),
        reps: number(values.reps, smoke ? 1 : 3),
        durationSec: number(values.duration, smoke ? 1 : 3),
        connections: number(values.connections, smoke ? 2 : 4),
        log,
      });
      console.log(JSON.stringify(result, null, 2));
      console.log(renderMetricsOverhead(result));
      const target = metricsOverheadTarget(result, smoke);
      console.log(`${target.name}: ${target.measured}; target ${target.target}: ${target.met === undefined ? 'not judged (smoke)' : target.met ? 'met' : 'NOT met'}`);
    } finally {
      await peers.close();
      await database.destroy();
    }
  }
}
