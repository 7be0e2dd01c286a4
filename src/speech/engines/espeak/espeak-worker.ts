// A worker thread of the eSpeak synthesizer: it runs eSpeak NG (WebAssembly), reads the WAV it writes
// and encodes it to MP3. All of that is synchronous CPU work of a few hundred milliseconds, which on
// the main thread would stall every request of the API. The pool in espeak-synthesizer.ts sends one
// job at a time and validates voice and text before sending, so errors here are engine failures.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import ESpeakNg from 'espeak-ng';
import { encodeMp3 } from '../../mp3.ts';
import type { WorkerReply, WorkerRequest } from '../worker-pool.ts';
import { SpeechError } from '../../../errors.ts';

/** One synthesis, as the pool sends it. */
export interface EspeakJob {
  text: string;
  /** An eSpeak voice ("language+variant"), already mapped from the Polly voice id. */
  voice: string;
  kbps: number;
}

// Node has WebAssembly, but the project's TypeScript libs (ES2023, no DOM) do not declare it.
type WasmModule = object;
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<WasmModule>;
      instantiate(module: WasmModule, imports: object): Promise<object>;
    };
  }
).WebAssembly;

// Compiling the 18 MB module once per worker saves time on every call; each call still gets a fresh
// instance, because the espeak-ng command line runs main() once and keeps global state.
let compiled: Promise<WasmModule> | undefined;
function compiledModule(): Promise<WasmModule> {
  if (!compiled) {
    const entry = createRequire(import.meta.url).resolve('espeak-ng');
    compiled = readFile(join(dirname(entry), 'espeak-ng.wasm')).then((bytes) => wasm.compile(bytes));
    compiled.catch(() => {
      compiled = undefined; // let a later call try again
    });
  }
  return compiled;
}

const IN = '/in.txt';
const OUT = '/out.wav';

async function synthesize(text: string, voice: string, kbps: number): Promise<Uint8Array> {
  const wav = await runEspeak(text, voice);
  const { samples, sampleRate } = decodeWav(wav);
  if (samples.length === 0) throw new SpeechError(`eSpeak voice "${voice}" produced no audio`);
  return encodeMp3(samples, sampleRate, kbps);
}

async function runEspeak(text: string, voice: string): Promise<Uint8Array> {
  const module = await compiledModule().catch((cause: unknown) => {
    throw new SpeechError('cannot load the eSpeak WebAssembly module', { cause });
  });
  const errors: string[] = [];
  try {
    const instance = await ESpeakNg({
      // The text goes in a file rather than argv, where a leading "-" would read as an option.
      arguments: ['-b', '1', '-v', voice, '-w', OUT, '-f', IN],
      preRun: [(m) => m.FS.writeFile(IN, text)],
      print: () => {},
      printErr: (line) => {
        // Emscripten's notice after every run, not an error.
        if (!line.includes('keepRuntimeAlive()')) errors.push(line);
      },
      instantiateWasm: (imports, receiveInstance) => {
        // eSpeak seeds the noise of its consonants with time(), so the same text and voice gave
        // different bytes in different seconds. A fixed wall clock makes the audio a function of
        // its cache key; nothing else in a run depends on the date.
        (imports as { env: Record<string, unknown> }).env.emscripten_date_now = () => 0;
        wasm.instantiate(module, imports).then(
          (instance) => receiveInstance(instance, module),
          (cause: unknown) => errors.push(String(cause)),
        );
        return {};
      },
    });
    // An unknown voice or a failed run writes no file.
    return instance.FS.readFile(OUT);
  } catch (cause) {
    const detail = errors.length > 0 ? `: ${errors.join(' ')}` : '';
    throw new SpeechError(`eSpeak failed with voice "${voice}"${detail}`, { cause });
  }
}

/** The 16-bit PCM samples of a WAV file (eSpeak writes 22050 Hz mono). */
function decodeWav(wav: Uint8Array): { samples: Int16Array; sampleRate: number } {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const tag = (offset: number): string => String.fromCharCode(...wav.subarray(offset, offset + 4));
  if (wav.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new SpeechError('eSpeak wrote no WAV file');
  let sampleRate = 0;
  let offset = 12;
  while (offset + 8 <= wav.length) {
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (tag(offset) === 'fmt ') {
      const channels = view.getUint16(body + 2, true);
      const bits = view.getUint16(body + 14, true);
      if (view.getUint16(body, true) !== 1 || channels !== 1 || bits !== 16) {
        throw new SpeechError(`eSpeak wrote an unexpected WAV format (${channels} channels, ${bits} bits)`);
      }
      sampleRate = view.getUint32(body + 4, true);
    } else if (tag(offset) === 'data') {
      // The size may be a placeholder when the writer could not seek back; trust the bytes present.
      const end = Math.min(body + size, wav.length);
      const bytes = wav.slice(body, body + Math.floor((end - body) / 2) * 2);
      if (sampleRate === 0) throw new SpeechError('eSpeak wrote a WAV file without a format chunk');
      return { samples: new Int16Array(bytes.buffer, 0, bytes.length / 2), sampleRate };
    }
    offset = body + size + (size % 2);
  }
  throw new SpeechError('eSpeak wrote a WAV file without audio data');
}

const port = parentPort;
if (!port) throw new Error('espeak-worker.ts runs as a worker thread of the eSpeak synthesizer');
port.on('message', ({ id, job }: WorkerRequest<EspeakJob>) => {
  synthesize(job.text, job.voice, job.kbps).then(
    (mp3) => {
      // Move the bytes to the main thread rather than copy them, but only when the array owns its
      // whole buffer. encodeMp3 joins with Buffer.concat, whose results under 4 KB are views into
      // Node's shared allocation pool: transferring that would detach every other Buffer on it,
      // and Node 24 refuses it outright (DataCloneError). Those short results are copied instead.
      const owned = mp3.byteOffset === 0 && mp3.byteLength === mp3.buffer.byteLength;
      const value = owned ? mp3 : mp3.slice();
      const reply: WorkerReply<Uint8Array> = { id, ok: true, value };
      port.postMessage(reply, [value.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const reply: WorkerReply<Uint8Array> = { id, ok: false, message: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    },
  );
});
