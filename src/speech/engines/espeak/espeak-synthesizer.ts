// The offline speech engine: eSpeak NG compiled to WebAssembly (npm espeak-ng 1.0.2), encoded to
// MP3. It needs no network and no keys. It speaks with the Polly voice ids, mapped to an eSpeak voice
// of the same language and gender, so that personas configured for Polly still speak offline.
//
// The synthesis itself (eSpeak, WAV decoding, MP3 encoding) is a few hundred milliseconds of
// synchronous CPU per call, so it runs in worker threads (espeak-worker.ts, ../worker-pool.ts): on the
// main thread it would stall every other request of the API, health checks and signals included.
import { SpeechError } from '../../../errors.ts';
import type { Synthesizer } from '../../synthesizer.ts';
import { createWorkerPool } from '../worker-pool.ts';
import type { EspeakJob } from './espeak-worker.ts';
import { espeakVoiceFor } from './espeak-voices.ts';

export interface EspeakSynthesizerOptions {
  /** Most characters per call; see ESPEAK_MAX_CHARS. */
  maxChars?: number;
  /** MP3 bitrate; speech at 22.05 kHz mono needs little. */
  kbps?: number;
  /** Worker threads that synthesize at once; further calls wait in line. See DEFAULT_WORKERS. */
  workers?: number;
}

/** The eSpeak synthesizer owns worker threads; close() stops them, and later calls reject. */
export interface EspeakSynthesizer extends Synthesizer {
  close(): Promise<void>;
}

// Two workers, even on this project's 2-core machines, where they measured no faster than one in
// throughput: besides its own thread, each call keeps V8's shared background threads busy for about
// as long again (most likely garbage collection after each fresh 32 MB instance), so one call already
// uses more than a core. What two buy is latency under contention. The speech cache's scheduler lets
// one reply use at most one of them, so a short reply never waits for a long one's piece to end: a
// 300-character synthesis beside a running 1,200- or 5,000-character one took 860-1,000 ms with two
// workers, against about 600 ms alone; with one worker it waited for the whole piece in flight first.
// Not more than two: each worker adds about 170-190 MB of resident memory (its own isolate, compiled
// 18 MB module and instances). The second starts only when two calls overlap, so an API that speaks
// one reply at a time never pays for it.
const DEFAULT_WORKERS = 2;

/**
 * The most characters per call. A call cannot be interrupted, so when both workers are busy (two long
 * replies) a new reply waits for a piece to end. eSpeak takes about 220 ms per call plus 1.1 ms per
 * character here: 1,200 characters took 1.5 s, 5,000 took 5.3 s. The price is the per-call cost: a
 * 20,000-character reply took 25.3 s in 18 pieces, against 21.5 s in 5 pieces of 5,000 (+18%);
 * 1,500-character pieces would save a second of that and wait 2 s.
 */
export const ESPEAK_MAX_CHARS = 1200;

/**
 * A worker with no call for this long exits. An idle worker holds about 150-180 MB of resident
 * memory (measured: 76 MB before the first call, 229 MB after it, 124 MB once the worker has
 * exited, since the allocator keeps part of what the thread used), and an API that has spoken once
 * would otherwise hold it for good. The price: the first call after a quiet spell starts a worker
 * and compiles the module again, about 0.5 s more (1.26 s against 0.75 s for a short sentence here).
 * 30 s keeps the workers of a conversation in progress, whose turns come quicker than that.
 */
export const ESPEAK_IDLE_MS = 30_000;

// The worker beside this module: espeak-worker.ts from source, espeak-worker.js in the compiled build.
const WORKER_SCRIPT = new URL(`./espeak-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export function createEspeakSynthesizer(options: EspeakSynthesizerOptions = {}): EspeakSynthesizer {
  const maxChars = options.maxChars ?? ESPEAK_MAX_CHARS;
  const kbps = options.kbps ?? 48;
  const workers = options.workers ?? DEFAULT_WORKERS;
  // Workers start on the first call, so a synthesizer that never speaks costs nothing.
  const pool = createWorkerPool<EspeakJob, Uint8Array>(WORKER_SCRIPT, workers, 'eSpeak synthesizer', { idleMs: ESPEAK_IDLE_MS });
  return {
    id: 'espeak-v1-mp3',
    maxChars,
    concurrency: workers,
    async synthesize(text: string, voiceId: string): Promise<Uint8Array> {
      const voice = espeakVoiceFor(voiceId);
      // Refusals of the input are permanent: the same call fails the same way every time.
      if (!voice) throw new SpeechError(`eSpeak has no voice for "${voiceId}"`, { permanent: true });
      if (text.length > maxChars) {
        throw new SpeechError(`text of ${text.length} characters exceeds the eSpeak limit of ${maxChars}`, { permanent: true });
      }
      if (text.trim() === '') throw new SpeechError('nothing to say: the text is empty', { permanent: true });
      return pool.run({ text, voice, kbps });
    },
    close: () => pool.close(),
  };
}

