// The offline speech engine: eSpeak NG compiled to WebAssembly (npm espeak-ng 1.0.2), encoded to
// MP3. It needs no network and no keys. It speaks with the Polly voice ids, mapped to an eSpeak voice
// of the same language and gender, so that personas configured for Polly still speak offline.
//
// The synthesis itself (eSpeak, WAV decoding, MP3 encoding) is a few hundred milliseconds of
// synchronous CPU per call, so it runs in a small pool of worker threads (espeak-worker.ts): on the
// main thread it would stall every other request of the API, health checks and signals included.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EspeakJob } from './espeak-worker.ts';
import { SpeechError, type Synthesizer } from '../../synthesizer.ts';

// Polly voice id -> eSpeak voice ("language+variant"). Each one was checked to produce audio that
// differs from its base voice: with this build, variants on "en-gb" and "fr-fr" are silently
// ignored, which is why British English uses "en-gb-x-rp", other English variants "en" and French
// "fr". Voices of one language and gender share the few eSpeak variants (f1-f5, m1-m7), so some
// Polly voices sound alike offline. eSpeak has no Australian, Indian, Irish or Canadian French
// accents; those use the nearest voice. Polly's child voices (Ivy, Justin, Kevin) sound adult.
const ESPEAK_VOICES: Readonly<Record<string, string>> = {
  // arb
  Zeina: 'ar+f3',
  // ar-AE
  Hala: 'ar+f3', Zayd: 'ar',
  // ca-ES
  Arlet: 'ca+f3',
  // cmn-CN
  Zhiyu: 'cmn+f3',
  // yue-CN
  Hiujin: 'yue+f3',
  // cs-CZ
  Jitka: 'cs+f3',
  // cy-GB
  Gwyneth: 'cy+f3',
  // da-DK
  Mads: 'da', Naja: 'da+f3', Sofie: 'da+f2',
  // nl-NL
  Laura: 'nl+f3', Lotte: 'nl+f2', Ruben: 'nl',
  // nl-BE
  Lisa: 'nl+f3',
  // en-AU
  Nicole: 'en+f3', Olivia: 'en+f2', Russell: 'en',
  // en-NZ
  Aria: 'en+f3',
  // en-ZA
  Ayanda: 'en+f3',
  // en-SG
  Jasmine: 'en+f3',
  // en-IN
  Aditi: 'en+f3', Kajal: 'en+f2', Raveena: 'en+f4',
  // en-IE
  Niamh: 'en+f3',
  // en-GB-WLS
  Geraint: 'en',
  // en-GB
  Amy: 'en-gb-x-rp+f3', Arthur: 'en-gb-x-rp+m3', Brian: 'en-gb-x-rp', Emma: 'en-gb-x-rp+f2',
  // en-US
  Danielle: 'en-us+f2', Gregory: 'en-us+m3', Ivy: 'en-us+f4', Joanna: 'en-us+f3', Joey: 'en-us+m2', Justin: 'en-us+m4', Kendra: 'en-us+f5', Kevin: 'en-us+m5', Kimberly: 'en-us+f1', Matthew: 'en-us', Ruth: 'en-us+f3', Salli: 'en-us+f2', Stephen: 'en-us+m6', Tiffany: 'en-us+f4',
  // fi-FI
  Suvi: 'fi+f3',
  // fr-FR
  Ambre: 'fr+f4', Celine: 'fr+f2', Florian: 'fr+m3', Lea: 'fr+f3', Mathieu: 'fr', Remi: 'fr+m2',
  // fr-CA
  Chantal: 'fr+f3', Gabrielle: 'fr+f2', Liam: 'fr',
  // fr-BE
  Isabelle: 'fr-be+f3',
  // de-DE
  Daniel: 'de+m3', Hans: 'de', Lennart: 'de+m2', Marlene: 'de+f2', Vicki: 'de+f3',
  // de-AT
  Hannah: 'de+f3',
  // de-CH
  Sabrina: 'de+f3',
  // is-IS
  Dora: 'is+f3', Karl: 'is',
  // it-IT
  Adriano: 'it', Beatrice: 'it+f3', Bianca: 'it+f2', Carla: 'it+f4', Giorgio: 'it+m3', Lorenzo: 'it+m2',
  // ja-JP
  Kazuha: 'ja+f3', Mizuki: 'ja+f2', Takumi: 'ja', Tomoko: 'ja+f4',
  // ko-KR
  Jihye: 'ko+f3', Seoyeon: 'ko+f2',
  // nb-NO
  Ida: 'nb+f3', Liv: 'nb+f2',
  // pl-PL
  Ewa: 'pl+f3', Jacek: 'pl', Jan: 'pl+m3', Maja: 'pl+f2', Ola: 'pl+f4',
  // pt-BR
  Camila: 'pt-br+f3', Ricardo: 'pt-br', Thiago: 'pt-br+m3', Vitoria: 'pt-br+f2',
  // pt-PT
  Cristiano: 'pt', Ines: 'pt+f3',
  // ro-RO
  Carmen: 'ro+f3',
  // ru-RU
  Maxim: 'ru', Tatyana: 'ru+f3',
  // es-ES
  Conchita: 'es+f3', Enrique: 'es', Lucia: 'es+f2', Sergio: 'es+m3',
  // es-MX
  Andres: 'es-419', Mia: 'es-419+f3',
  // es-US
  Lupe: 'es-419+f3', Miguel: 'es-419', Pedro: 'es-419+m3', Penelope: 'es-419+f2',
  // sv-SE
  Astrid: 'sv+f3', Elin: 'sv+f2',
  // tr-TR
  Burcu: 'tr+f3', Filiz: 'tr+f2',
};

/** The eSpeak voice that speaks for a Polly voice id, if there is one. */
export function espeakVoiceFor(pollyVoiceId: string): string | undefined {
  return Object.hasOwn(ESPEAK_VOICES, pollyVoiceId) ? ESPEAK_VOICES[pollyVoiceId] : undefined;
}

/** The distinct eSpeak voices that the mapping uses. */
export function mappedEspeakVoices(): string[] {
  return [...new Set(Object.values(ESPEAK_VOICES))].sort();
}

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
  const pool = createWorkerPool<EspeakJob, Uint8Array>(WORKER_SCRIPT, options.workers ?? defaultWorkers());
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

/** What the pool sends a worker thread: one job at a time. */
export interface WorkerRequest<J> {
  id: number;
  job: J;
}

/** What a worker thread answers to a request: the result, or the message of a SpeechError. */
export type WorkerReply<R> = { id: number; ok: true; value: R } | { id: number; ok: false; message: string };

export interface WorkerPool<J, R> {
  /** Runs a job on an idle worker, or waits in line for one. */
  run(job: J): Promise<R>;
  /** Stops the workers; waiting and running jobs, and later ones, reject with a SpeechError. */
  close(): Promise<void>;
}

// A worker script is a .ts file that no test transform reaches, and on Node 20 a loader passed in a
// Worker's execArgv (`--import tsx`) never applies to the worker's own entry module (nodejs/node
// #47747, tsx #354). So each worker starts from a tiny ESM bootstrap that registers tsx (a runtime
// dependency) in that thread and then imports the script. tsx is found from this file rather than the
// working directory, so a CLI started elsewhere works too; the parent's execArgv is not inherited, so
// the worker starts the same under `node --import tsx`, the tsx CLI and vitest.
const TSX_API = import.meta.resolve('tsx/esm/api');
function bootstrap(script: URL): URL {
  const code = `import { register } from ${JSON.stringify(TSX_API)};\nregister();\nawait import(${JSON.stringify(script.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

interface Task<J, R> {
  job: J;
  resolve(value: R): void;
  reject(err: Error): void;
}

interface Thread<J, R> {
  worker: Worker;
  task?: Task<J, R>;
  requestId: number;
}

/**
 * Up to `size` worker threads running `script` (which answers each WorkerRequest with a WorkerReply),
 * started on demand and reused. An idle worker does not keep the process alive. A worker that
 * crashes fails only the job it had; the next job starts a new one.
 */
export function createWorkerPool<J, R>(script: URL, size: number): WorkerPool<J, R> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a worker pool needs at least one worker, not ${size}`);
  const threads = new Set<Thread<J, R>>();
  const queue: Task<J, R>[] = [];
  let closed = false;
  let lastRequestId = 0;
  const closedError = () => new SpeechError('the eSpeak synthesizer is closed');
  const entry = bootstrap(script);

  function start(): Thread<J, R> {
    const worker = new Worker(entry, { execArgv: [] });
    const thread: Thread<J, R> = { worker, requestId: 0 };
    threads.add(thread);
    worker.unref();
    worker.on('message', (reply: WorkerReply<R>) => {
      const task = thread.task;
      if (!task || reply.id !== thread.requestId) return;
      thread.task = undefined;
      worker.unref();
      if (reply.ok) task.resolve(reply.value);
      else task.reject(new SpeechError(reply.message));
      dispatch();
    });
    // An uncaught error in the worker ('error', then 'exit') or an exit of its own: it is gone.
    const retire = (failure: () => SpeechError) => {
      if (!threads.delete(thread)) return;
      const task = thread.task;
      thread.task = undefined;
      task?.reject(closed ? closedError() : failure());
      dispatch();
    };
    worker.on('error', (cause) => retire(() => new SpeechError(`an eSpeak worker thread failed: ${cause.message}`, { cause })));
    worker.on('exit', (code) => retire(() => new SpeechError(`an eSpeak worker thread stopped (exit code ${code})`)));
    return thread;
  }

  function dispatch(): void {
    while (!closed && queue.length > 0) {
      let thread = [...threads].find((t) => !t.task);
      if (!thread) {
        if (threads.size >= size) return;
        try {
          thread = start();
        } catch (cause) {
          queue.shift()?.reject(new SpeechError('cannot start an eSpeak worker thread', { cause }));
          continue;
        }
      }
      const task = queue.shift();
      if (!task) return;
      lastRequestId += 1;
      thread.task = task;
      thread.requestId = lastRequestId;
      // A job in flight keeps the process alive, as any pending I/O would.
      thread.worker.ref();
      const request: WorkerRequest<J> = { id: lastRequestId, job: task.job };
      thread.worker.postMessage(request);
    }
  }

  return {
    run(job: J): Promise<R> {
      if (closed) return Promise.reject(closedError());
      return new Promise<R>((resolve, reject) => {
        queue.push({ job, resolve, reject });
        dispatch();
      });
    },
    async close(): Promise<void> {
      closed = true;
      for (const task of queue.splice(0)) task.reject(closedError());
      // Each exit rejects the job that worker had.
      await Promise.all([...threads].map((t) => t.worker.terminate()));
    },
  };
}
