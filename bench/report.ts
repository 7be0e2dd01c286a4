// The results of one run: the targets checked, a markdown table for people (stdout and
// docs/benchmarks.md) and JSON for machines (bench/results/).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Plan } from './context.ts';
import type { PollyLatency } from './peers.ts';
import type { AppendCostSize } from './scenarios/append-cost.ts';
import type { AuthResult } from './scenarios/auth.ts';
import type { HistoryReadResult } from './scenarios/history-read.ts';
import type { PagesResult } from './scenarios/pages.ts';
import type { NaiveReadSize } from './scenarios/naive-read.ts';
import type { CostResult, SingleFlightResult } from './scenarios/single-flight.ts';
import type { WriteThroughResult } from './scenarios/write-through.ts';
import { LONG_CHARS, SHORT_CHARS, type FairnessResult } from './scenarios/fairness.ts';
import { DRILL_POSTS, type CrashDrillResult } from './scenarios/crash-drill.ts';
import type { StreamingResult } from './scenarios/streaming.ts';
import type { PageResult } from './scenarios/page.ts';
import type { Stat } from './stats.ts';

export interface RoundResult {
  round: number;
  historyRead: HistoryReadResult;
  /** GET ?limit=50 at each length, one at a time. */
  pages: PagesResult;
  naiveRead: NaiveReadSize[];
  appendCost: AppendCostSize[];
  writeThrough: WriteThroughResult;
  singleFlight: SingleFlightResult;
  cost: CostResult;
  /** RSS of the API after the round, once idle and after a full GC. */
  rssAfterBytes: number;
  /** V8 heap in use after that GC. */
  heapUsedAfterBytes: number;
  seconds: number;
}

export interface Target {
  name: string;
  measured: string;
  target: string;
  /** undefined: reported, no target. */
  met: boolean | undefined;
}

export interface BenchResult {
  startedAt: string;
  seconds: number;
  smoke: boolean;
  machine: { cpus: number; cpuModel: string; memory: string; node: string; platform: string };
  database: 'pglite' | 'postgres';
  pollyLatency: PollyLatency;
  plan: Plan;
  laterRoundsPlan: Plan;
  seeding: { seconds: number; messages: number };
  /** Round 1 runs the full plan; its figures are the ones reported. */
  rounds: RoundResult[];
  /** Scenario 7, run once, before the rounds. */
  auth: AuthResult;
  /** Scenario 8, run once, after the rounds (absent from results written before it existed). */
  fairness?: FairnessResult;
  /** Scenario 9, run once, last (absent from results written before it existed). */
  crashDrill?: CrashDrillResult;
  /** Scenario 10, run once, after the rounds on the main API (absent from results written before it existed). */
  streaming?: StreamingResult;
  /** Scenario 11, in Chromium, after scenario 10 (absent without Chromium, and from older results). */
  page?: PageResult;
  targets: Target[];
}

const MB = 1024 * 1024;
const ms = (s: Stat, digits = 1) => `${s.median.toFixed(digits)} [${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)}]`;
const pct = (s: Stat) => `${(s.median * 100).toFixed(1)}% [${(s.p25 * 100).toFixed(1)}–${(s.p75 * 100).toFixed(1)}]`;
const x = (v: number) => `${v.toFixed(2)}×`;
const n = (v: number) => v.toLocaleString('en-US');
const signed = (fraction: number) => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`;

export function evaluateTargets(
  rounds: RoundResult[],
  auth: AuthResult,
  smoke: boolean,
  fair?: FairnessResult,
  drill?: CrashDrillResult,
  stream?: StreamingResult,
  page?: PageResult,
): Target[] {
  const first = rounds[0]!;
  const last = rounds.at(-1)!;
  const reads = first.historyRead.sizes;
  const at = <T extends { size: number }>(rows: T[], size: number) => rows.find((r) => r.size === size);
  const targets: Target[] = [];

  const read1k = at(reads, 1000);
  targets.push(
    read1k
      ? {
          name: 'URL building share of the GET at 1,000 messages',
          measured: `${pct(read1k.urlShareOfRequest)} of the request; ${pct(read1k.urlShareOfHandler)} of the handler`,
          target: '≤ 5%',
          met: read1k.urlShareOfRequest.median <= 0.05,
        }
      : { name: 'URL building share at 1,000 messages', measured: 'size not run', target: '≤ 5%', met: undefined },
  );
  targets.push({
    name: 'Storage requests during the history reads',
    measured: String(first.historyRead.storageRequests),
    target: '0',
    met: first.historyRead.storageRequests === 0,
  });
  const read10k = at(reads, 10000);
  if (read1k && read10k) {
    const byThroughput = read1k.reqPerSec.median / read10k.reqPerSec.median;
    const bySequential = read10k.sequentialMs.median / read1k.sequentialMs.median;
    targets.push({
      name: 'GET cost, 10,000 / 1,000 messages',
      // One GET's cost is judged one request at a time; under load, concurrent 10,000-message
      // responses also compete for the collector, which the throughput ratio shows beside it.
      measured: `${x(bySequential)} one at a time; ${x(byThroughput)} by throughput`,
      target: '≤ 12× (one at a time)',
      met: bySequential <= 12,
    });
  }
  targets.push(pageTarget(first.pages));
  for (const row of first.naiveRead) {
    targets.push({
      name: `Speed-up over HEAD-per-message at ${n(row.size)} messages`,
      measured: x(row.speedup),
      target: 'reported',
      met: undefined,
    });
  }
  const appends = first.appendCost;
  const small = appends[0];
  const big = appends.at(-1);
  if (small && big && big !== small) {
    const ratio = big.appendMs.median / small.appendMs.median;
    targets.push({
      name: `Append (db-append), ${n(big.size)} / ${n(small.size)} messages`,
      measured: x(ratio),
      target: '≤ 1.25×',
      met: ratio <= 1.25,
    });
  }
  const hit = first.writeThrough.hit.storage;
  targets.push({
    name: 'A cache hit: storage requests and syntheses per POST',
    measured: `${(hit.heads / hit.posts).toFixed(2)} HEAD, ${(hit.puts / hit.posts).toFixed(2)} PUT, ${(hit.other / hit.posts).toFixed(2)} other, ${(hit.syntheses / hit.posts).toFixed(2)} syntheses`,
    target: '1 HEAD, 0 PUT, 0 syntheses',
    met: hit.heads === hit.posts && hit.puts === 0 && hit.other === 0 && hit.syntheses === 0,
  });
  const extra = first.writeThrough.missExtraInPollyLatencies;
  targets.push({
    name: 'A miss adds about one Polly latency',
    measured: `${x(extra)} of ${first.writeThrough.pollyMs.toFixed(0)} ms`,
    target: '≈ 1× (0.75–1.5)',
    met: extra >= 0.75 && extra <= 1.5,
  });
  targets.push({
    name: 'POST with a 9,000- vs a 2,000-character reply',
    measured: x(first.writeThrough.longOverShort),
    target: '≤ 1.5×',
    met: first.writeThrough.longOverShort <= 1.5,
  });
  const sf = first.singleFlight;
  targets.push({
    name: `${sf.posts} concurrent POSTs with one reply: Polly calls`,
    measured: String(sf.pollyCalls),
    target: '1',
    met: sf.pollyCalls === 1,
  });
  const c = first.cost;
  targets.push({
    name: `Billed / minimum over ${n(c.replies)} replies (50% repeats)`,
    measured: `${c.billedOverMinimum.toFixed(2)} (${n(c.billedChars)} / ${n(c.minimumChars)} chars)`,
    target: '1.00',
    met: c.billedChars === c.minimumChars,
  });
  const memory = read10k?.memory ?? reads.at(-1)?.memory;
  if (memory) {
    targets.push({
      name: `Peak RSS during the ${n(reads.at(-1)!.size)}-message GET`,
      measured: `${(memory.peakBytes / MB).toFixed(0)} MB`,
      target: 'reported',
      met: undefined,
    });
  }
  if (rounds.length > 1) {
    const growth = last.rssAfterBytes / first.rssAfterBytes - 1;
    targets.push({
      name: `RSS after round ${last.round} vs after round 1`,
      measured:
        `${signed(growth)} (${(first.rssAfterBytes / MB).toFixed(0)} → ${(last.rssAfterBytes / MB).toFixed(0)} MB); ` +
        `V8 heap in use ${signed(last.heapUsedAfterBytes / first.heapUsedAfterBytes - 1)}`,
      target: 'within ±10%',
      met: Math.abs(growth) <= 0.1,
    });
  }
  const label = (c: string) => auth.variants.find((v) => v.credential === c)!.label;
  for (const o of auth.overheads) {
    const measured =
      `${signed(o.ofMedian)} of the median one at a time (${o.medianDeltaMs >= 0 ? '+' : '−'}${Math.abs(o.medianDeltaMs * 1000).toFixed(0)} µs); ` +
      `${signed(o.byThroughput)} by throughput`;
    if (o.credential === 'admin') {
      // Its check is one SHA-256: what it shows is how much two processes differ.
      targets.push({ name: `Control: ${label(o.credential)} vs no auth (another process)`, measured, target: 'reported', met: undefined });
      continue;
    }
    targets.push({
      name: `Credential check: ${label(o.credential)} vs no auth, GET at ${n(auth.size)} messages`,
      measured: `${measured}; ${signed(o.vsAdmin)} vs the admin key`,
      target: '≤ 5% of the median (one at a time)',
      met: o.ofMedian <= 0.05,
    });
  }
  if (fair) {
    targets.push({
      name: `Short reply's time to audio beside a ${n(LONG_CHARS)}-character one / alone (eSpeak)`,
      measured: `${x(fair.ratio)} (${fair.besideMs.median.toFixed(0)} / ${fair.aloneMs.median.toFixed(0)} ms)`,
      target: '≤ 1.5×',
      met: fair.ratio <= 1.5,
    });
  }
  if (drill) {
    const duplicates = drill.runs.reduce((sum, r) => sum + r.duplicates, 0);
    targets.push({
      name: `Crash drill (${drill.database}): kill -9 during ${DRILL_POSTS} posts, restart to every audio URL answering 200, no backfill`,
      measured: `${(drill.restartToAllAudioMs.median / 1000).toFixed(1)} s median of ${drill.runs.length}; ${duplicates} duplicate messages after retries`,
      target: 'every URL, 0 duplicates',
      // A run that did not get every URL within its limit throws, so reaching here means every URL.
      met: duplicates === 0,
    });
  }
  if (stream) {
    targets.push(
      {
        name: `Streamed reply: time to first audio ≤ first sentence + one Polly call for it + 50 ms`,
        measured: `${stream.withinBudget} of ${stream.samples} samples; TTFA ${ms(stream.ttfaMs, 0)} ms, budget ${ms(stream.budgetMs, 0)} ms`,
        target: 'every sample',
        met: stream.withinBudget === stream.samples,
      },
      {
        name: `Streamed reply: time to first audio against the plain POST's answer (${n(stream.replyChars)} characters)`,
        measured: `${x(stream.speedup)} sooner (${stream.ttfaMs.median.toFixed(0)} / ${stream.plainMs.median.toFixed(0)} ms)`,
        target: '≥ 5×',
        met: stream.speedup >= 5,
      },
      {
        name: 'Billed characters, streamed / plain, same replies',
        measured: `${stream.billed.ratio.toFixed(2)} (${n(stream.billed.streamed)} / ${n(stream.billed.plain)})`,
        target: '1.00',
        met: stream.billed.streamed === stream.billed.plain,
      },
    );
  }
  if (page) {
    targets.push(
      {
        name: "The page's JavaScript, gzipped",
        measured: `${(page.assets.jsGzipBytes / 1024).toFixed(1)} KB (${(page.assets.jsBytes / 1024).toFixed(1)} KB before gzip)`,
        target: '< 100 KB',
        met: page.assets.jsGzipBytes < 100 * 1024,
      },
      {
        name: 'On the page: Send to first audio heard, streaming against the plain POST',
        measured: `${x(page.speedup)} sooner (${page.streamedMs.median.toFixed(0)} / ${page.plainMs.median.toFixed(0)} ms)`,
        target: 'sooner',
        met: page.streamedMs.median < page.plainMs.median,
      },
    );
  }
  if (smoke) for (const t of targets) t.met = undefined; // too few samples to judge
  return targets;
}

/** The whole report as markdown: readable in a terminal and pasted as-is into docs/benchmarks.md. */
export function renderMarkdown(result: BenchResult): string {
  const first = result.rounds[0]!;
  const lines: string[] = [];
  const table = (headers: string[], rows: string[][]) => {
    lines.push(`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`);
    for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
    lines.push('');
  };
  const { machine } = result;
  lines.push(
    `Run ${result.startedAt}${result.smoke ? ' (smoke: too few samples to judge)' : ''}, ${result.seconds.toFixed(0)} s. ` +
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memory}, Node ${machine.node}. Database: ${result.database}. ` +
      `Polly latency ${result.pollyLatency.baseMs} ms + ${result.pollyLatency.perCharMs} ms/char.`,
    '',
    'Each cell is a median with its interquartile range [p25–p75]; ratios are of medians from the same run.',
    '',
    '### Targets',
    '',
  );
  table(
    ['check', 'measured', 'target', 'met'],
    result.targets.map((t) => [t.name, t.measured, t.target, t.met === undefined ? '—' : t.met ? 'yes' : '**NO**']),
  );

  lines.push(`### 1. History read (GET), ${result.plan.connections} connections, ${result.plan.reps} × ${result.plan.durationSec} s per size`, '');
  table(
    ['messages', 'req/s', 'p50 ms', 'p99 ms', 'one at a time ms', 'db ms', 'audio-urls ms', 'URLs / request', 'URLs / handler'],
    first.historyRead.sizes.map((s) => [
      n(s.size),
      ms(s.reqPerSec, 0),
      ms(s.latencyP50),
      ms(s.latencyP99),
      ms(s.sequentialMs, 2),
      ms(s.dbMs, 2),
      ms(s.audioUrlsMs, 3),
      pct(s.urlShareOfRequest),
      pct(s.urlShareOfHandler),
    ]),
  );
  lines.push(`Storage requests counted at s3rver during scenario 1: ${first.historyRead.storageRequests}.`, '');

  lines.push(`### 1b. A page of the history: GET ?limit=${first.pages.limit}, one request at a time`, '');
  table(
    ['messages', 'page', 'one at a time ms', 'db ms', 'audio-urls ms', 'samples'],
    first.pages.sizes.map((s) => [n(s.size), n(s.messages), ms(s.sequentialMs, 2), ms(s.dbMs, 2), ms(s.audioUrlsMs, 3), n(s.sequentialMs.n)]),
  );

  lines.push('### 2. The road not taken: one HEAD per model message (one request at a time)', '');
  table(
    ['messages', 'our GET ms', 'GET + HEADs ms', 'HEADs', 'speed-up'],
    first.naiveRead.map((r) => [n(r.size), ms(r.oursMs, 2), ms(r.naiveMs, 2), n(r.headsPerRead), x(r.speedup)]),
  );

  lines.push('### 3. Append cost (cache hit, LLM answers at once)', '');
  const getAt = (size: number) => first.historyRead.sizes.find((s) => s.size === size)?.sequentialMs;
  table(
    ['messages', 'db-append ms', 'db-read ms', 'db-history ms', 'audio-urls ms', 'POST total ms', 'GET ms'],
    first.appendCost.map((a) => {
      const get = getAt(a.size);
      return [n(a.size), ms(a.appendMs, 2), ms(a.readMs, 2), ms(a.historyMs, 2), ms(a.audioUrlsMs, 3), ms(a.totalMs, 2), get ? ms(get, 2) : '—'];
    }),
  );

  const wt = first.writeThrough;
  lines.push('### 4. Write-through', '');
  table(
    ['POST', 'total ms', 'speech ms', 'S3 requests / POST', 'HEAD', 'PUT', 'syntheses', 'POSTs'],
    [
      ['hit', ms(wt.hit.totalMs), ms(wt.hit.speechMs), ms(wt.hit.storage.requestsPerPost, 0), ...counts(wt.hit.storage)],
      [`miss (${wt.miss.speechChars} chars)`, ms(wt.miss.totalMs), ms(wt.miss.speechMs), ms(wt.miss.storage.requestsPerPost, 0), ...counts(wt.miss.storage)],
    ],
  );
  lines.push(
    `A miss costs ${(wt.miss.totalMs.median - wt.hit.totalMs.median).toFixed(0)} ms more than a hit; one Polly call for that text takes ${wt.pollyMs.toFixed(0)} ms (${x(wt.missExtraInPollyLatencies)}).`,
    '',
  );
  table(
    ['reply', 'speech chars', 'segments', 'Polly serial ms', 'Polly 4 at a time ms', 'speech ms', 'POST total ms'],
    [
      ['2,000 chars', wt.short],
      ['9,000 chars', wt.long],
    ].map(([label, l]) => {
      const r = l as WriteThroughResult['short'];
      return [label as string, n(r.speechChars), String(r.segments), r.pollySerialMs.toFixed(0), r.pollyParallelMs.toFixed(0), ms(r.speechMs), ms(r.totalMs)];
    }),
  );
  lines.push(`9,000 / 2,000 characters: ${x(wt.longOverShort)} (POST total).`, '');

  const sf = first.singleFlight;
  const c = first.cost;
  lines.push('### 5. Single-flight and cost', '');
  table(
    ['check', 'result'],
    [
      [`${sf.posts} concurrent POSTs, one reply`, `${sf.pollyCalls} Polly call, ${sf.storagePuts} PUT, ${sf.storageHeads} HEAD, ${sf.distinctAudioUrls} distinct audio URL; POST ${ms(sf.totalMs, 0)} ms`],
      [`${n(c.replies)} replies, ${n(c.distinctReplies)} distinct`, `${n(c.pollyCalls)} Polly calls; POST ${ms(c.totalMs, 0)} ms`],
      ['characters billed', n(c.billedChars)],
      ['minimum: speech text of the distinct replies', `${n(c.minimumChars)} (billed / minimum = ${c.billedOverMinimum.toFixed(2)})`],
      ['raw text of the distinct replies (markdown, code)', `${n(c.rawChars)} (${x(c.rawChars / c.minimumChars)} the minimum)`],
      ['without the cache (every reply synthesized)', `${n(c.uncachedChars)} (${x(c.uncachedChars / c.minimumChars)} the minimum)`],
    ],
  );

  lines.push('### 6. Memory of the API process', '');
  const memory = first.historyRead.sizes.find((s) => s.memory)?.memory;
  const rows: string[][] = [];
  if (memory) {
    rows.push([
      `during the ${n(first.historyRead.sizes.at(-1)!.size)}-message GET`,
      `peak ${(memory.peakBytes / MB).toFixed(0)} MB; sampled RSS ${ms({ ...memory.rssSampledBytes, median: memory.rssSampledBytes.median / MB, p25: memory.rssSampledBytes.p25 / MB, p75: memory.rssSampledBytes.p75 / MB }, 0)} MB`,
    ]);
  }
  for (const r of result.rounds) {
    rows.push([
      `after round ${r.round}${r.round === 1 ? ' (full plan)' : ' (lighter plan)'}, full GC`,
      `${(r.rssAfterBytes / MB).toFixed(0)} MB; V8 heap in use ${(r.heapUsedAfterBytes / MB).toFixed(1)} MB (round took ${r.seconds.toFixed(0)} s)`,
    ]);
  }
  table(['when', 'memory'], rows);

  const auth = result.auth;
  const base = auth.variants[0]!;
  lines.push(
    `### 7. Credentials: GET at ${n(auth.size)} messages, ${n(result.plan.authSamples)} one at a time and ${result.plan.reps} × ${result.plan.durationSec} s (${result.plan.connections} connections) per credential, in turns`,
    '',
  );
  table(
    ['credential', 'one at a time ms', 'vs no auth', 'vs admin key', 'db ms', 'req/s', 'vs no auth (time per request)', 'p50 ms', 'p99 ms', 'authenticate() alone µs'],
    auth.variants.map((v) => {
      const o = auth.overheads.find((x) => x.credential === v.credential);
      const alone = v.credential === 'none' ? undefined : auth.inProcessUs[v.credential];
      return [
        v.label,
        ms(v.sequentialMs, 3),
        o ? signed(o.ofMedian) : '—',
        o && o.credential !== 'admin' ? signed(o.vsAdmin) : '—',
        ms(v.dbMs, 2),
        ms(v.reqPerSec, 0),
        o ? signed(o.byThroughput) : '—',
        ms(v.latencyP50),
        ms(v.latencyP99),
        alone ? ms(alone, 1) : '—',
      ];
    }),
  );
  lines.push(
    'Each credential has an API process of its own, on a copy of the same database: AUTH_MODE=none for no auth, AUTH_MODE=required for the others. ' +
      'All count every request in the same rate limiter. The admin key costs one SHA-256, so its gap to no auth is mostly what two processes differ by. ' +
      `The API fetched the JWKS ${auth.jwksFetches} time(s). "authenticate() alone" is the product's authenticator in the benchmark's process, ` +
      `one call at a time (the API key from its cache); as a share of no auth's median (${base.sequentialMs.median.toFixed(3)} ms): ` +
      (['admin', 'key', 'jwt'] as const)
        .map((c) => `${c === 'admin' ? 'admin key' : c === 'key' ? 'API key' : 'JWT'} ${((auth.inProcessUs[c].median / 1000 / base.sequentialMs.median) * 100).toFixed(2)}%`)
        .join(', ') +
      '.',
    '',
  );

  const fair = result.fairness;
  if (fair) {
    lines.push(`### 8. Fairness: a short reply beside a long one (eSpeak, files, an API process of its own)`, '');
    table(
      ['short reply (POST until audio_url)', 'ms', 'samples'],
      [
        [`${n(SHORT_CHARS)} characters, alone`, ms(fair.aloneMs, 0), String(fair.aloneMs.n)],
        [`${n(SHORT_CHARS)} characters, beside a ${n(LONG_CHARS)}-character reply being synthesized`, ms(fair.besideMs, 0), String(fair.besideMs.n)],
        [`the ${n(LONG_CHARS)}-character replies themselves`, ms(fair.longMs, 0), String(fair.longMs.n)],
      ],
    );
    lines.push(
      `Beside / alone: ${x(fair.ratio)}. ${fair.longReplies} long repl${fair.longReplies === 1 ? 'y' : 'ies'} kept one running; ` +
        `peak RSS of that API process ${(fair.peakRssBytes / MB).toFixed(0)} MB.`,
      '',
    );
  }
  const drill = result.crashDrill;
  if (drill) {
    lines.push(`### 9. Crash drill: kill -9 during ${DRILL_POSTS} concurrent posts, then a restart (${drill.database})`, '');
    table(
      ['run', 'answered before the crash', 'saved but unanswered', '409s on retry', 'duplicates', 'restart to ready ms', 'restart to every audio URL ms'],
      drill.runs.map((r, i) => [
        String(i + 1),
        String(r.answered),
        String(r.savedUnanswered),
        String(r.conflicts),
        String(r.duplicates),
        r.restartToReadyMs.toFixed(0),
        r.restartToAllAudioMs.toFixed(0),
      ]),
    );
    lines.push(
      `Median from the restart to 100% of audio URLs answering 200: ${ms(drill.restartToAllAudioMs, 0)} ms, of which ` +
        `${ms(drill.restartToReadyMs, 0)} ms until the API answers. Clients whose answer was lost retried with their ` +
        'Idempotency-Key; nothing ran the backfill.',
      '',
    );
  }
  const stream = result.streaming;
  if (stream) {
    lines.push(
      `### 10. Speech while the reply streams (${n(stream.replyChars)} characters at ${n(stream.rate.charsPerSecond)} characters/s, ` +
        `first token after ${stream.rate.firstTokenMs} ms; Polly ${stream.pollyLatency.baseMs} ms + ${stream.pollyLatency.perCharMs} ms/character)`,
      '',
    );
    table(
      ['from sending the POST until', 'ms', 'samples'],
      [
        ['the first text event (time to first token)', ms(stream.firstTokenMs, 0), String(stream.firstTokenMs.n)],
        ['the text event that completes the first sentence', ms(stream.firstSentenceMs, 0), String(stream.firstSentenceMs.n)],
        ['**the first audio event (TTFA)**', ms(stream.ttfaMs, 0), String(stream.ttfaMs.n)],
        ['budget: first sentence + one Polly call for the first segment + 50 ms', ms(stream.budgetMs, 0), String(stream.budgetMs.n)],
        ['the done event (reply and audio stored)', ms(stream.streamDoneMs, 0), String(stream.streamDoneMs.n)],
        ['the plain POST\'s answer, with its audio_url', ms(stream.plainMs, 0), String(stream.plainMs.n)],
      ],
    );
    lines.push(
      `First audio ${x(stream.speedup)} sooner than the plain POST's answer; ${stream.withinBudget} of ${stream.samples} within budget; ` +
        `first segment ${stream.firstSegmentChars} characters (median). Billed characters streamed / plain: ` +
        `${n(stream.billed.streamed)} / ${n(stream.billed.plain)} = ${stream.billed.ratio.toFixed(2)}.`,
      '',
    );
  }
  const page = result.page;
  if (page) {
    lines.push(
      `### 11. The web page in Chromium (the reply of scenario 10: ${n(page.replyChars)} characters at ` +
        `${n(page.rate.charsPerSecond)} characters/s; Autoplay on)`,
      '',
    );
    table(
      ['from pressing Send until the first audio is heard', 'ms', 'samples'],
      [
        ['**streaming POST** (`/`)', ms(page.streamedMs, 0), String(page.streamedMs.n)],
        ['plain POST (`/?stream=off`)', ms(page.plainMs, 0), String(page.plainMs.n)],
      ],
    );
    const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
    lines.push(
      `The first audio is heard ${x(page.speedup)} sooner with streaming. The page's JavaScript is ` +
        `${kb(page.assets.jsGzipBytes)} gzipped (${kb(page.assets.jsBytes)} before), its CSS ${kb(page.assets.cssGzipBytes)} ` +
        `and its HTML ${kb(page.assets.htmlGzipBytes)}.`,
      '',
    );
  }
  return lines.join('\n');
}

/**
 * A page must cost what its size costs: the page at 10,000 messages against the page at 100. A run
 * without those sizes (--smoke, --sizes) compares the longest history with the shortest that still
 * fills a page.
 */
function pageTarget(pages: PagesResult): Target {
  const target = '≤ 1.5× (one at a time)';
  const rows = pages.sizes;
  const big = rows.find((r) => r.size === 10000) ?? rows.at(-1);
  const small = rows.find((r) => r.size === 100) ?? rows.find((r) => r.size >= pages.limit);
  if (!big || !small || big === small) {
    return { name: `A page of ${pages.limit}, longest / shortest history`, measured: 'size not run', target, met: undefined };
  }
  const ratio = big.sequentialMs.median / small.sequentialMs.median;
  return {
    name: `A page of ${pages.limit} (GET ?limit=${pages.limit}), ${n(big.size)} / ${n(small.size)} messages`,
    measured: `${x(ratio)} (${ms(big.sequentialMs, 2)} / ${ms(small.sequentialMs, 2)} ms)`,
    target,
    met: ratio <= 1.5,
  };
}

function counts(s: { heads: number; puts: number; syntheses: number; posts: number }): string[] {
  return [String(s.heads), String(s.puts), String(s.syntheses), String(s.posts)];
}

/** Writes bench/results/<timestamp>.json and bench/results/latest.json; returns the first path. */
export function writeResults(result: BenchResult, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + '\n';
  const file = path.join(dir, `${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, json);
  writeFileSync(path.join(dir, 'latest.json'), json);
  return file;
}
