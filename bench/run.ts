// `npm run bench [-- flags]`: starts the peers (s3rver, Polly and Gemini protocol servers), seeds a
// fresh database, runs the auth scenario (an API process per credential, on copies of that database),
// then starts the real API as a child process and runs the other scenarios (the design's three
// promises beside their alternatives) in rounds, and last the fairness scenario, on an API process of
// its own with eSpeak. Round 1 runs the full plan and gives the reported figures; rounds 2.. run a
// lighter plan and exist to show that memory does not grow. Prints a markdown report and writes JSON.
import { availableParallelism, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_OWNER } from '../src/access/principal.ts';
import { startApi, type ApiProcess } from './api-process.ts';
import { sleep, type BenchContext, type Plan } from './context.ts';
import { createSession, getSession, postMessage } from './http.ts';
import { startPeers, type Peers, type PollyLatency } from './peers.ts';
import { evaluateTargets, renderMarkdown, writeResults, type BenchResult, type RoundResult } from './report.ts';
import { appendCost } from './scenarios/append-cost.ts';
import { AUTH_OWNERS, AUTH_SIZE, authScenario, type AuthSessions } from './scenarios/auth.ts';
import { historyRead } from './scenarios/history-read.ts';
import { pages } from './scenarios/pages.ts';
import { naiveRead } from './scenarios/naive-read.ts';
import { cost, singleFlight } from './scenarios/single-flight.ts';
import { writeThrough } from './scenarios/write-through.ts';
import { fairness } from './scenarios/fairness.ts';
import { crashDrill } from './scenarios/crash-drill.ts';
import { IDLE_WAIT_MS, idleMemory, idleMemoryTargets, renderIdleMemory } from './scenarios/idle-memory.ts';
import { renderScaleOut, SCALE_OUT_FULL, SCALE_OUT_SMOKE, scaleOut, scaleOutTarget } from './scenarios/scale-out.ts';
import { metricsOverhead, metricsOverheadTarget, renderMetricsOverhead } from './scenarios/metrics-overhead.ts';
import { streaming } from './scenarios/streaming.ts';
import { buildPage, chromiumAvailable, pageScenario, type PageResult } from './scenarios/page.ts';
import { CHROMIUM } from '../test/support/browser.ts';
import { createBenchDatabase, seedAudio, seedSessions, type BenchDatabase } from './seed.ts';

const HELP = `npm run bench -- [flags]

  --smoke                 a tiny run for CI (under a minute); numbers are not judged
  --sizes 10,100,1000,10000   history lengths in messages
  --duration 3            seconds per autocannon run
  --reps 3                autocannon runs per size
  --connections 4         autocannon connections
  --samples 30            one-at-a-time GETs per size, and our/naive pairs per size
  --naive-seconds 8       time budget per size for the naive read (at least 3 pairs)
  --append-posts 30       POSTs per size in the append scenario
  --pairs 8               hit/miss pairs and 2,000/9,000-character pairs
  --concurrent 100        concurrent POSTs producing one reply
  --replies 1000          replies in the cost scenario (50% repeats)
  --workers 20            clients posting at once in the cost scenario
  --auth-samples 500      one-at-a-time GETs per credential in the auth scenario (which also
                          runs --reps autocannon runs of --duration s per credential), and per
                          variant in the metrics scenario (on, off and a control, the same way)
  --fair-samples 20       short replies timed alone, and as many beside a 20,000-character one,
                          in the fairness scenario (its own API process, with eSpeak)
  --stream-samples 10     streamed and plain posts of one 1,500-character reply each, in the
                          streaming scenario (on the main API, after the rounds)
  --page-samples 5        messages sent from the web page in Chromium, streamed and plain, in
                          the page scenario (after the streaming one; skipped without Chromium)
  --drills 3              crash drills (kill -9 during 30 posts, then a restart), each with an
                          API process and a database of its own
  --idle-runs 3           starts per kind in the idle-memory scenario (embedded fresh, embedded
                          reopened, PostgreSQL), each idle for the eSpeak workers' idle time + 3 s
                          (--smoke: 1 s, which is not idle yet)
  --scale-reps 3          runs per configuration (one API process, two) in the scale-out
                          scenario (PostgreSQL only: skipped without BENCH_DATABASE_URL)
  --scale-posts 3000      posts per scale-out run
  --rounds 5              rounds of scenarios 1-5 (memory check)
  --full-rounds           run every round with the full plan (default: rounds 2.. are lighter)
  --polly-ms 150          Polly latency per call
  --polly-char-ms 0.05    Polly latency per character
  --out bench/results     where the JSON goes
  --cpu-prof DIR          write CPU profiles of the API processes into DIR (to find a cause): the
                          main one and the auth scenario's four

Environment: BENCH_DATABASE_URL=postgres://... runs on a fresh database created on that server
(dropped at the end) instead of the embedded PGlite.`;

const { values: flags } = parseArgs({
  options: {
    help: { type: 'boolean' },
    smoke: { type: 'boolean' },
    sizes: { type: 'string' },
    duration: { type: 'string' },
    reps: { type: 'string' },
    connections: { type: 'string' },
    samples: { type: 'string' },
    'naive-seconds': { type: 'string' },
    'append-posts': { type: 'string' },
    pairs: { type: 'string' },
    concurrent: { type: 'string' },
    replies: { type: 'string' },
    workers: { type: 'string' },
    'auth-samples': { type: 'string' },
    'fair-samples': { type: 'string' },
    drills: { type: 'string' },
    'idle-runs': { type: 'string' },
    'scale-reps': { type: 'string' },
    'scale-posts': { type: 'string' },
    'stream-samples': { type: 'string' },
    'page-samples': { type: 'string' },
    rounds: { type: 'string' },
    'full-rounds': { type: 'boolean' },
    'polly-ms': { type: 'string' },
    'polly-char-ms': { type: 'string' },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

const FULL: Plan & { rounds: number } = {
  sizes: [10, 100, 1000, 10000],
  durationSec: 3,
  reps: 3,
  connections: 4,
  samples: 30,
  naiveBudgetSec: 8,
  appendPosts: 30,
  writeThroughPairs: 8,
  concurrentPosts: 100,
  costReplies: 1000,
  costWorkers: 20,
  authSamples: 500,
  rounds: 5,
};
const SMOKE: Plan & { rounds: number } = {
  sizes: [10, 100],
  durationSec: 1,
  reps: 1,
  connections: 2,
  samples: 3,
  naiveBudgetSec: 1,
  appendPosts: 3,
  writeThroughPairs: 2,
  concurrentPosts: 20,
  costReplies: 40,
  costWorkers: 5,
  authSamples: 5,
  rounds: 2,
};

function numberFlag(name: keyof typeof flags, fallback: number, opts: { integer?: boolean; min?: number } = {}): number {
  const integer = opts.integer ?? true;
  const min = opts.min ?? (integer ? 1 : 0);
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(raw)}`);
    process.exit(2);
  }
  return value;
}

const base = flags.smoke ? SMOKE : FULL;
const plan: Plan = {
  sizes: flags.sizes
    ? flags.sizes.split(',').map((s) => {
        const size = Number(s.trim());
        if (!Number.isInteger(size) || size < 2) {
          console.error(`--sizes takes integers >= 2, got ${s}`);
          process.exit(2);
        }
        return size;
      })
    : base.sizes,
  durationSec: numberFlag('duration', base.durationSec),
  reps: numberFlag('reps', base.reps),
  connections: numberFlag('connections', base.connections),
  samples: numberFlag('samples', base.samples),
  naiveBudgetSec: numberFlag('naive-seconds', base.naiveBudgetSec, { integer: false }),
  appendPosts: numberFlag('append-posts', base.appendPosts),
  writeThroughPairs: numberFlag('pairs', base.writeThroughPairs),
  concurrentPosts: numberFlag('concurrent', base.concurrentPosts),
  costReplies: numberFlag('replies', base.costReplies, { min: 2 }),
  costWorkers: numberFlag('workers', base.costWorkers),
  authSamples: numberFlag('auth-samples', base.authSamples),
};
plan.sizes.sort((a, b) => a - b);
const rounds = numberFlag('rounds', base.rounds);
const fairSamples = numberFlag('fair-samples', flags.smoke ? 3 : 20);
const drills = numberFlag('drills', flags.smoke ? 1 : 3);
const idleRuns = numberFlag('idle-runs', flags.smoke ? 1 : 3);
const scaleBase = flags.smoke ? SCALE_OUT_SMOKE : SCALE_OUT_FULL;
const scalePlan = { ...scaleBase, reps: numberFlag('scale-reps', scaleBase.reps), posts: numberFlag('scale-posts', scaleBase.posts) };
const streamSamples = numberFlag('stream-samples', flags.smoke ? 2 : 10);
const pageSamples = numberFlag('page-samples', flags.smoke ? 2 : 5);
// Later rounds do the same kinds of work, with fewer samples, so that five rounds fit the time budget.
const laterRounds: Plan = flags['full-rounds']
  ? plan
  : {
      ...plan,
      durationSec: 1,
      reps: 1,
      samples: Math.min(plan.samples, 5),
      naiveBudgetSec: Math.min(plan.naiveBudgetSec, 2),
      appendPosts: Math.min(plan.appendPosts, 10),
      writeThroughPairs: Math.min(plan.writeThroughPairs, 3),
      costReplies: Math.min(plan.costReplies, 200),
    };
const pollyLatency: PollyLatency = {
  baseMs: numberFlag('polly-ms', 150, { integer: false }),
  perCharMs: numberFlag('polly-char-ms', 0.05, { integer: false }),
};
const outDir = flags.out ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
// A benchmark-only knob, like TEST_DATABASE_URL for the tests; the API itself still reads its
// configuration only through src/config/env.ts (it gets DATABASE_URL from us).
const postgresUrl = process.env.BENCH_DATABASE_URL || undefined;

const log = (line: string) => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const t0 = performance.now();
const startedAt = new Date().toISOString();

let peers: Peers | undefined;
let database: BenchDatabase | undefined;
let api: ApiProcess | undefined;
try {
  // The page that the API serves, built from the source as it is (the page scenario measures it).
  if (chromiumAvailable()) await buildPage();
  peers = await startPeers(pollyLatency);
  database = await createBenchDatabase(postgresUrl);
  log(`seeding ${database.kind}: histories of ${plan.sizes.join(', ')} messages, ${rounds} round(s) of append sessions`);
  const seedStart = performance.now();
  const lengths = [...plan.sizes, ...Array.from({ length: rounds }, () => plan.sizes).flat()];
  // Then one session of AUTH_SIZE messages per owner for the auth scenario (one opening of the database).
  const authOwners = Object.entries(AUTH_OWNERS);
  const seededLengths = [...lengths, ...authOwners.map(() => AUTH_SIZE)];
  const ids = await seedSessions(database, seededLengths, [...lengths.map(() => LOCAL_OWNER), ...authOwners.map(([, owner]) => owner)]);
  const authSessions = Object.fromEntries(authOwners.map(([name], i) => [name, ids[lengths.length + i]!])) as AuthSessions;
  await seedAudio(peers);
  const seeding = { seconds: (performance.now() - seedStart) / 1000, messages: seededLengths.reduce((a, b) => a + b, 0) };

  // Before the main API opens the database: the scenario runs four API processes of its own on
  // copies of it (PGlite lets one process open a data directory), and stops them when it is done.
  log('auth scenario');
  const auth = await authScenario({ database, peers, plan, sessions: authSessions, cpuProfileDir: flags['cpu-prof'], log });
  // Also on copies of the database, so also before the main API; the local owner's 100 messages.
  log('metrics overhead scenario');
  const metrics = await metricsOverhead({
    database,
    peers,
    sessionId: authSessions.local,
    samples: plan.authSamples,
    reps: plan.reps,
    durationSec: plan.durationSec,
    connections: plan.connections,
    log,
  });

  log('starting the API');
  api = await startApi({ ...peers.apiEnv, ...database.apiEnv }, { cpuProfileDir: flags['cpu-prof'] });
  const historySessions = new Map(plan.sizes.map((size, i) => [size, ids[i]!]));

  // Warm-up: JIT, connection pools and the voice catalogue, before anything is measured.
  for (const [, id] of historySessions) for (let i = 0; i < 3; i++) await getSession(api.url, id);
  await postMessage(api.url, await createSession(api.url), 'Warm-up message');

  const results: RoundResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const roundPlan = round === 1 ? plan : laterRounds;
    const offset = plan.sizes.length * round;
    const ctx: BenchContext = {
      api,
      peers,
      plan: roundPlan,
      round,
      pollyLatency,
      historySessions,
      appendSessions: new Map(plan.sizes.map((size, i) => [size, ids[offset + i]!])),
      log,
    };
    log(`round ${round} of ${rounds}`);
    const roundStart = performance.now();
    const result = {
      round,
      historyRead: await historyRead(ctx),
      pages: await pages(ctx),
      naiveRead: await naiveRead(ctx),
      appendCost: await appendCost(ctx),
      writeThrough: await writeThrough(ctx),
      singleFlight: await singleFlight(ctx),
      cost: await cost(ctx),
    };
    peers.replies.clear();
    const seconds = (performance.now() - roundStart) / 1000;
    // Settle, collect the garbage, then read: what stays is what a leak would grow.
    await sleep(500);
    const heapUsedAfterBytes = await api.collectGarbage().catch((err: unknown) => {
      log(`no full GC before reading memory (${String(err)}); RSS includes uncollected garbage`);
      return NaN;
    });
    await sleep(200);
    results.push({ ...result, rssAfterBytes: api.memory().rss, heapUsedAfterBytes, seconds });
  }

  log('streaming scenario');
  const stream = await streaming({ api, peers, samples: streamSamples, pollyLatency, log });
  let page: PageResult | undefined;
  if (chromiumAvailable()) {
    log('page scenario (Chromium)');
    page = await pageScenario({ api, peers, samples: pageSamples, log });
  } else {
    log(`page scenario skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium)`);
  }

  // Scenario 8 runs an API process of its own, with eSpeak; the main one is stopped first, so that
  // the two do not share the machine.
  await api.stop();
  log('fairness scenario (eSpeak)');
  const fair = await fairness({ peers, samples: fairSamples, log });
  log('crash drill');
  const drill = await crashDrill({ peers, postgresUrl, runs: drills, log });
  log('idle memory scenario');
  const idle = await idleMemory({ postgresUrl, runs: idleRuns, idleWaitMs: flags.smoke ? 1000 : IDLE_WAIT_MS, log });
  log('scale-out scenario (PostgreSQL)');
  const scale = await scaleOut({ postgresUrl, plan: scalePlan, log });

  const report: BenchResult = {
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    smoke: Boolean(flags.smoke),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    database: database.kind,
    pollyLatency,
    plan,
    laterRoundsPlan: laterRounds,
    seeding,
    rounds: results,
    auth,
    fairness: fair,
    crashDrill: drill,
    streaming: stream,
    page,
    targets: [...evaluateTargets(results, auth, Boolean(flags.smoke), fair, drill, stream, page), metricsOverheadTarget(metrics, Boolean(flags.smoke)), ...idleMemoryTargets(idle, Boolean(flags.smoke)), scaleOutTarget(scale)],
  };
  console.log(renderMarkdown(report));
  console.log(renderMetricsOverhead(metrics));
  console.log(renderIdleMemory(idle));
  console.log(renderScaleOut(scale));
  log(`results in ${writeResults(Object.assign(report, { metricsOverhead: metrics, idleMemory: idle, scaleOut: scale }), outDir)}`);
} finally {
  await api?.stop();
  await peers?.close();
  await database?.destroy();
}
