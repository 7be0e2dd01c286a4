// Scenario 8: one long reply cannot starve the others. With the local engine (eSpeak in worker
// threads, audio in files), a short reply's time to audio is measured alone and beside a
// 20,000-character reply that is being synthesized. Before the fair scheduler, a long reply held the
// single worker and a short reply in another session waited for all of it (23-30 s in a bug report).
//
// It runs an API process of its own (eSpeak needs no S3 and no Polly; a fresh DATA_DIR, so nothing is
// a cache hit), with the Gemini peer for the replies. Time to audio is the latency of a POST whose
// reply is 300 characters of prose and that answers with a non-null audio_url: SPEECH_TIMEOUT_MS is
// far above anything measured, so a slow synthesis shows as a slow POST rather than a null URL.
//
// `npm run bench` runs it last; `node --import tsx bench/scenarios/fairness.ts [--samples 20]` runs it
// alone (with the peers, no database seeding and no other scenario) and prints its figures as JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startApi } from '../api-process.ts';
import { sleep } from '../context.ts';
import { createSession, postMessage } from '../http.ts';
import { startPeers, VOICE, type Peers } from '../peers.ts';
import { proseReply } from '../replies.ts';
import { summarize, type Stat } from '../stats.ts';

export const SHORT_CHARS = 300;
export const LONG_CHARS = 20_000;

export interface FairnessResult {
  /** Short replies' POST latency (ms) with nothing else being synthesized. */
  aloneMs: Stat;
  /** The same while a 20,000-character reply is being synthesized in another session. */
  besideMs: Stat;
  /** Median beside / median alone. */
  ratio: number;
  /** Long replies posted to keep one running during the "beside" samples. */
  longReplies: number;
  /** The long replies' POST latency (ms), for scale: what a short reply used to wait behind. */
  longMs: Stat;
  /** Peak RSS of that API process (eSpeak workers included), in bytes. */
  peakRssBytes: number;
}

export interface FairnessOptions {
  peers: Peers;
  /** Short replies measured alone, and as many beside a long one. */
  samples: number;
  log(line: string): void;
}

export async function fairness({ peers, samples, log }: FairnessOptions): Promise<FairnessResult> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-fairness-'));
  const api = await startApi({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    LLM_PROVIDER: 'gemini',
    GEMINI_API_KEY: 'bench',
    GEMINI_BASE_URL: peers.gemini.url,
    DEFAULT_POLLY_VOICE_ID: VOICE,
    SPEECH_TIMEOUT_MS: '120000',
  });
  let message = 0;
  /** A user message whose reply (from the Gemini peer) is `reply`. */
  const ask = (reply: string) => {
    const text = `Fairness question ${message++}`;
    peers.replies.set(text, reply);
    return text;
  };
  const short = (label: string) => ask(proseReply(`A short ${label} answer, number ${message}`, SHORT_CHARS));
  async function timeToAudio(session: string, label: string): Promise<number> {
    const res = await postMessage(api.url, session, short(label));
    if (!res.body.history.at(-1)?.audio_url) throw new Error(`a short reply (${label}) came back without audio`);
    return res.ms;
  }

  try {
    const [shortSession, longSession] = [await createSession(api.url), await createSession(api.url)];
    // Warm-up: the first call in each worker compiles eSpeak's 18 MB WebAssembly module.
    await Promise.all([timeToAudio(shortSession, 'warm-up'), timeToAudio(longSession, 'warm-up')]);

    log(`  fairness: ${samples} short replies alone`);
    const alone: number[] = [];
    for (let i = 0; i < samples; i++) alone.push(await timeToAudio(shortSession, 'alone'));

    log(`  fairness: ${samples} short replies beside a ${LONG_CHARS.toLocaleString('en-US')}-character one`);
    const longMs: number[] = [];
    let longRunning = false;
    const startLong = () => {
      longRunning = true;
      return postMessage(api.url, longSession, ask(proseReply(`A long answer, number ${message}`, LONG_CHARS)))
        .then((res) => {
          if (!res.body.history.at(-1)?.audio_url) throw new Error('a long reply came back without audio');
          longMs.push(res.ms);
        })
        .finally(() => {
          longRunning = false;
        });
    };
    const longs: Promise<void>[] = [];
    const beside: number[] = [];
    while (beside.length < samples) {
      if (!longRunning) {
        const long = startLong();
        long.catch(() => {}); // reported by the Promise.all below, not as an unhandled rejection
        longs.push(long);
        await sleep(1000); // its first pieces are in the engine
      }
      beside.push(await timeToAudio(shortSession, 'beside'));
    }
    await Promise.all(longs);

    const aloneMs = summarize(alone);
    const besideMs = summarize(beside);
    return {
      aloneMs,
      besideMs,
      ratio: besideMs.median / aloneMs.median,
      longReplies: longs.length,
      longMs: summarize(longMs),
      peakRssBytes: api.memory().peak,
    };
  } finally {
    await api.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '20' } } });
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`--samples must be an integer >= 1, got ${values.samples}`);
  const t0 = performance.now();
  const log = (line: string) => console.error(`[fairness ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  const peers = await startPeers({ baseMs: 0, perCharMs: 0 });
  try {
    const result = await fairness({ peers, samples, log });
    console.log(JSON.stringify(result, null, 2));
    log(`beside / alone: ${result.ratio.toFixed(2)}× (${result.besideMs.median.toFixed(0)} / ${result.aloneMs.median.toFixed(0)} ms)`);
  } finally {
    await peers.close();
  }
}
