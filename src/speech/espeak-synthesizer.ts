// The offline speech engine: eSpeak NG compiled to WebAssembly (npm espeak-ng 1.0.2), encoded to
// MP3. It needs no network and no keys. It speaks with the Polly voice ids, mapped to an eSpeak voice
// of the same language and gender, so that personas configured for Polly still speak offline.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ESpeakNg from 'espeak-ng';
import { encodeMp3 } from './mp3.ts';
import { SpeechError, type Synthesizer } from './synthesizer.ts';

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

// Compiling the 18 MB module once saves time on every call; each call still gets a fresh instance,
// because the espeak-ng command line runs main() once and keeps global state.
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

// Every instance holds 32 MB of WebAssembly memory and runs on this thread, so more calls at once
// would only add memory, not speed.
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];
async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

const IN = '/in.txt';
const OUT = '/out.wav';

export function createEspeakSynthesizer(options: EspeakSynthesizerOptions = {}): Synthesizer {
  const maxChars = options.maxChars ?? 5000;
  const kbps = options.kbps ?? 48;
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
      const wav = await bounded(() => runEspeak(text, voice));
      const { samples, sampleRate } = decodeWav(wav);
      if (samples.length === 0) throw new SpeechError(`eSpeak voice "${voice}" produced no audio`);
      return encodeMp3(samples, sampleRate, kbps);
    },
  };
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
