// The offline speech engine: eSpeak NG compiled to WebAssembly (npm espeak-ng 1.0.2), encoded to
// MP3. It needs no network and no keys. It speaks with the Polly voice ids, mapped to an eSpeak voice
// of the same language and gender, so that personas configured for Polly still speak offline.
//
// The synthesis itself (eSpeak, WAV decoding, MP3 encoding) is a few hundred milliseconds of
// synchronous CPU per call, so it runs in worker threads (espeak-worker.ts, ../worker-pool.ts): on the
// main thread it would stall every other request of the API, health checks and signals included.
import { availableParallelism } from 'node:os';
import { SpeechError } from '../../../errors.ts';
import type { Synthesizer } from '../../synthesizer.ts';
import { createWorkerPool } from '../worker-pool.ts';
import type { EspeakJob } from './espeak-worker.ts';
import { espeakVoiceFor } from './espeak-voices.ts';

export interface EspeakSynthesizerOptions {
  /** Most characters per call: it is local CPU (about 0.6 ms a character), but calls stay bounded. */
  maxChars?: number;
  /** MP3 bitrate; speech at 22.05 kHz mono needs little. */
  kbps?: number;
  /** Worker threads that synthesize at once; further calls wait in line. See defaultWorkers(). */
  workers?: number;
}

/** The eSpeak synthesizer owns worker threads; close() stops them, and later calls reject. */
export interface EspeakSynthesizer extends Synthesizer {
  close(): Promise<void>;
}

// One worker per core beyond the first, at most two. Besides its own thread, each call keeps V8's
// shared background threads busy for about as long again (measured per thread; most likely garbage
// collection after each fresh 32 MB instance), so one call already uses more than one core. On this
// project's 2-core machines that means one worker: calls are synthesized one at a time, about as fast
// as on the main thread before, and the main thread (HTTP, JSON, PGlite's WebAssembly database) keeps
// a core. Two workers there measured no faster and let the event loop lag more. Two is the cap
// because each worker adds about 190 MB of resident memory (its own isolate, compiled 18 MB module
// and instances), and chat replies come in a few short pieces.
function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

const WORKER_SCRIPT = new URL('./espeak-worker.ts', import.meta.url);

export function createEspeakSynthesizer(options: EspeakSynthesizerOptions = {}): EspeakSynthesizer {
  const maxChars = options.maxChars ?? 5000;
  const kbps = options.kbps ?? 48;
  // Workers start on the first call, so a synthesizer that never speaks costs nothing.
  const pool = createWorkerPool<EspeakJob, Uint8Array>(WORKER_SCRIPT, options.workers ?? defaultWorkers(), 'eSpeak synthesizer');
  return {
    id: 'espeak-v1-mp3',
    maxChars,
    async synthesize(text: string, voiceId: string): Promise<Uint8Array> {
      const voice = espeakVoiceFor(voiceId);
      if (!voice) throw new SpeechError(`eSpeak has no voice for "${voiceId}"`);
      if (text.length > maxChars) {
        throw new SpeechError(`text of ${text.length} characters exceeds the eSpeak limit of ${maxChars}`);
      }
      if (text.trim() === '') throw new SpeechError('nothing to say: the text is empty');
      return pool.run({ text, voice, kbps });
    },
    close: () => pool.close(),
  };
}

