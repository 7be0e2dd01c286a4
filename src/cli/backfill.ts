// `npm run audio:backfill [-- --session ID] [--concurrency N]`: synthesizes the audio that is missing
// for model messages in their session's current voice (see backfill.ts). Progress goes to stderr,
// the summary to stdout.
//
// Exit codes: 0 all audio present, 1 some items failed (or the run itself failed), 2 bad arguments
// or unknown session, 3 could not start (the embedded database is in use by the API, say), 130
// interrupted by SIGINT (run again to continue: done audio is skipped). A bad configuration exits 1
// with the variable's name, like the API.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfigOrExit } from '../config/env.ts';
import { wireProduct, type Product } from '../wiring.ts';
import { backfillAudio, BackfillScopeError, type BackfillProgress, type BackfillSummary } from '../chat/audio-backfill.ts';

const USAGE = 'usage: npm run audio:backfill [-- --session SESSION_ID] [--concurrency N]';
/** A progress line at least this often while items complete... */
const PROGRESS_INTERVAL_MS = 1000;
/** ...or after this many items, whichever comes first. */
const PROGRESS_EVERY_ITEMS = 1000;

let args: { session: string | undefined; concurrency: number };
try {
  const { values } = parseArgs({
    options: { session: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new Error(`--concurrency must be a whole number from 1 to 64, got ${JSON.stringify(values.concurrency)}`);
  }
  args = { session: values.session, concurrency };
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}

const config = loadConfigOrExit();

// Warnings and errors only, on stderr, so stdout carries nothing but the summary.
const log = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
let product: Product;
try {
  product = await wireProduct(config, log);
} catch (err) {
  console.error(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(3);
}

// The first Ctrl-C lets the items in flight finish and still prints the summary; a second one quits.
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  console.error('interrupted: finishing the items in flight (Ctrl-C again to quit now)');
  controller.abort();
});

const started = performance.now();
let lastLineAt = started;
let lastLineItems = 0;
const itemsDone = (p: BackfillProgress) => p.present + p.synthesized + p.failed;
const progressLine = (p: BackfillProgress) =>
  `scanned ${p.scanned} · synthesized ${p.synthesized} · present ${p.present} · failed ${p.failed}`;

let exitCode: number;
try {
  const summary = await backfillAudio({
    sessions: product.sessions,
    speech: product.speech,
    jobs: product.audioJobs,
    sessionId: args.session,
    concurrency: args.concurrency,
    signal: controller.signal,
    onProgress(p) {
      const now = performance.now();
      if (now - lastLineAt < PROGRESS_INTERVAL_MS && itemsDone(p) - lastLineItems < PROGRESS_EVERY_ITEMS) return;
      lastLineAt = now;
      lastLineItems = itemsDone(p);
      console.error(progressLine(p));
    },
  });
  console.log(formatSummary(summary, { scope: args.session ? `session ${args.session}` : 'all sessions', seconds: (performance.now() - started) / 1000 }));
  exitCode = summary.aborted ? 130 : summary.failed > 0 ? 1 : 0;
} catch (err) {
  if (err instanceof BackfillScopeError) {
    console.error(err.message);
    exitCode = 2;
  } else {
    console.error('backfill failed:', err);
    exitCode = 1;
  }
} finally {
  await product.close();
}
// Exit explicitly: an SDK's keep-alive sockets must not hold a finished command open.
process.exit(exitCode);

function formatSummary(s: BackfillSummary, run: { scope: string; seconds: number }): string {
  const rows: Array<[string, number | string]> = [
    ['messages scanned', s.scanned],
    ['unique (text, voice)', s.uniquePairs],
    ['already present', s.present],
    ['synthesized', s.synthesized],
    ['failed', s.failed],
    ['billed characters', s.billedCharacters],
    ['elapsed seconds', run.seconds.toFixed(1)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `audio backfill ${s.aborted ? 'INTERRUPTED' : 'done'} (${run.scope})`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
  ];
  for (const f of s.failures) lines.push(`  failed: ${f.key} (voice ${f.voiceId}, session ${f.sessionId} message ${f.seq}): ${f.error}`);
  if (s.failed > s.failures.length) lines.push(`  ... and ${s.failed - s.failures.length} more failures`);
  if (s.aborted) lines.push('  run the command again to continue: audio already stored is skipped');
  return lines.join('\n');
}
