// A loopback HTTP/1.1 server that speaks enough of Amazon Polly's REST-JSON protocol for the real
// @aws-sdk/client-polly: SynthesizeSpeech (POST /v1/speech) and DescribeVoices (GET /v1/voices).
//
// Point a client at it with createPollyClient({ region: 'us-east-1', endpoint: server.endpoint,
// credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }). It checks that requests are
// SigV4-signed for polly, but not the signature itself.
//
// It enforces what the write path relies on, as Polly does: at most 3000 billed characters per call
// (TextLengthExceededException), voice ids that exist (ValidationException) and voices that support
// the requested engine (EngineNotSupportedException). It answers with real, decodable MP3 whose
// duration grows with the text, and it can be scripted to throttle, fail (all calls or chosen ones),
// slow down, hold calls until released, or go away.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Mp3Encoder } from '@breezystack/lamejs';
import { closeNow, listenOnLoopback, readBody } from './loopback-http.ts';

export interface PollyVoiceFixture {
  Id: string;
  Name: string;
  Gender: 'Female' | 'Male';
  LanguageCode: string;
  LanguageName: string;
  SupportedEngines: string[];
}

/**
 * A realistic slice of Polly's voices (AWS "Available voices" table). Nicole, Russell, Raveena,
 * Geraint, Hans, Marlene, Celine and Mathieu are standard-only; Arthur, Danielle, Gregory, Ruth,
 * Olivia, Daniel and Remi have no standard variant.
 */
export const DESCRIBED_VOICES: readonly PollyVoiceFixture[] = [
  v('Joanna', 'Joanna', 'Female', 'en-US', 'US English', ['generative', 'neural', 'standard']),
  v('Matthew', 'Matthew', 'Male', 'en-US', 'US English', ['generative', 'neural', 'standard']),
  v('Ivy', 'Ivy', 'Female', 'en-US', 'US English', ['neural', 'standard']),
  v('Kendra', 'Kendra', 'Female', 'en-US', 'US English', ['neural', 'standard']),
  v('Salli', 'Salli', 'Female', 'en-US', 'US English', ['neural', 'standard']),
  v('Joey', 'Joey', 'Male', 'en-US', 'US English', ['neural', 'standard']),
  v('Danielle', 'Danielle', 'Female', 'en-US', 'US English', ['generative', 'long-form', 'neural']),
  v('Ruth', 'Ruth', 'Female', 'en-US', 'US English', ['generative', 'long-form', 'neural']),
  v('Gregory', 'Gregory', 'Male', 'en-US', 'US English', ['long-form', 'neural']),
  v('Amy', 'Amy', 'Female', 'en-GB', 'British English', ['generative', 'neural', 'standard']),
  v('Emma', 'Emma', 'Female', 'en-GB', 'British English', ['neural', 'standard']),
  v('Brian', 'Brian', 'Male', 'en-GB', 'British English', ['generative', 'neural', 'standard']),
  v('Arthur', 'Arthur', 'Male', 'en-GB', 'British English', ['neural']),
  v('Nicole', 'Nicole', 'Female', 'en-AU', 'Australian English', ['standard']),
  v('Olivia', 'Olivia', 'Female', 'en-AU', 'Australian English', ['generative', 'neural']),
  v('Russell', 'Russell', 'Male', 'en-AU', 'Australian English', ['standard']),
  v('Raveena', 'Raveena', 'Female', 'en-IN', 'Indian English', ['standard']),
  v('Geraint', 'Geraint', 'Male', 'en-GB-WLS', 'Welsh English', ['standard']),
  v('Marlene', 'Marlene', 'Female', 'de-DE', 'German', ['standard']),
  v('Vicki', 'Vicki', 'Female', 'de-DE', 'German', ['neural', 'standard']),
  v('Hans', 'Hans', 'Male', 'de-DE', 'German', ['standard']),
  v('Daniel', 'Daniel', 'Male', 'de-DE', 'German', ['neural']),
  v('Celine', 'Céline', 'Female', 'fr-FR', 'French', ['standard']),
  v('Lea', 'Léa', 'Female', 'fr-FR', 'French', ['neural', 'standard']),
  v('Mathieu', 'Mathieu', 'Male', 'fr-FR', 'French', ['standard']),
  v('Remi', 'Rémi', 'Male', 'fr-FR', 'French', ['neural']),
];

function v(
  Id: string,
  Name: string,
  Gender: 'Female' | 'Male',
  LanguageCode: string,
  LanguageName: string,
  SupportedEngines: string[],
): PollyVoiceFixture {
  return { Id, Name, Gender, LanguageCode, LanguageName, SupportedEngines };
}

/** One SynthesizeSpeech request as the server received it, successful or not. */
export interface SynthRequest {
  voiceId: string;
  engine: string;
  text: string;
  textType: string;
  outputFormat: string;
  sampleRate: string | undefined;
  /** The HTTP status sent back; 0 while pending, or when the socket was destroyed instead. */
  status: number;
}

/**
 * throttle: 400 ThrottlingException (what Polly sends over its rate quota; the SDK retries it).
 * failure: 500 ServiceFailureException. unavailable: 503 ServiceUnavailableException.
 * reset: the socket is destroyed without an answer (a network failure to the SDK).
 */
export type PollyFailureKind = 'throttle' | 'failure' | 'unavailable' | 'reset';

export interface PollyServerOptions {
  /** The voices DescribeVoices lists and SynthesizeSpeech accepts. Default: DESCRIBED_VOICES. */
  voices?: readonly PollyVoiceFixture[];
  /** Voices per DescribeVoices page, so that clients must follow NextToken. Default 5. */
  pageSize?: number;
  /** How long a successful SynthesizeSpeech takes. Default: no delay. */
  latencyMs?: (text: string) => number;
  /** The MP3 to answer with. Default: fakeSpeechMp3(text), a quiet tone as long as the speech. */
  audio?: (request: SynthRequest) => Uint8Array;
}

/** Requests held by PollyServer.hold(), until release(). */
export interface PollyHold {
  /** Requests waiting on this hold now. */
  readonly waiting: number;
  /**
   * Lets the waiting requests (and later matching ones) go on to be answered; with `count`, only the
   * `count` that have waited longest, and later matching requests are still held.
   */
  release(count?: number): void;
}

export interface PollyServer {
  /** http://127.0.0.1:PORT, for createPollyClient({ endpoint }). */
  readonly endpoint: string;
  /** Every SynthesizeSpeech request, in arrival order (failed ones too, see status). */
  readonly synthRequests: SynthRequest[];
  /** DescribeVoices requests received, including failed ones. */
  readonly describeCount: number;
  /** Characters of successful syntheses, counted as Polly bills them. */
  readonly billedCharacters: number;
  /** The most SynthesizeSpeech requests that were in progress at one time. */
  readonly peakConcurrency: number;
  /** The next n requests (of either operation) fail this way, after they are recorded. */
  failNext(n: number, kind?: PollyFailureKind): void;
  /**
   * Every SynthesizeSpeech request that `match` accepts fails this way, after it is recorded, until
   * the returned function is called (or reset()). Other requests are unaffected.
   */
  failWhere(match: (request: SynthRequest) => boolean, kind?: PollyFailureKind): () => void;
  /**
   * Valid SynthesizeSpeech requests that `match` accepts (default: all) are recorded and counted in
   * flight, then wait without an answer until release() (or reset()), so that a test can see what
   * happens while calls are in flight. Failures and validation errors are not held.
   */
  hold(match?: (request: SynthRequest) => boolean): PollyHold;
  /** true or 'unavailable': every request gets 503 until setOutage(false); 'reset' destroys sockets. */
  setOutage(outage: boolean | 'unavailable' | 'reset'): void;
  setLatency(latencyMs: (text: string) => number): void;
  setAudio(audio: (request: SynthRequest) => Uint8Array): void;
  /** Forgets recorded requests, counters, pending failures and the outage. */
  reset(): void;
  close(): Promise<void>;
}

/** Polly's limit per SynthesizeSpeech call: billed characters, and all characters including SSML. */
const MAX_BILLED_CHARS = 3000;
const MAX_TOTAL_CHARS = 6000;
const MP3_SAMPLE_RATES = new Set(['8000', '16000', '22050', '24000', '44100', '48000']);

export async function startPollyServer(opts: PollyServerOptions = {}): Promise<PollyServer> {
  const voices = opts.voices ?? DESCRIBED_VOICES;
  const pageSize = opts.pageSize ?? 5;
  let latencyMs = opts.latencyMs ?? (() => 0);
  let audio = opts.audio ?? ((r: SynthRequest) => fakeSpeechMp3(r.text));
  const synthRequests: SynthRequest[] = [];
  let describeCount = 0;
  let billedCharacters = 0;
  let inFlight = 0;
  let peakConcurrency = 0;
  const pendingFailures: PollyFailureKind[] = [];
  let outage: false | 'unavailable' | 'reset' = false;
  const failRules = new Set<{ match: (request: SynthRequest) => boolean; kind: PollyFailureKind }>();
  const holds = new Set<{ match: (request: SynthRequest) => boolean; waiters: Array<() => void> }>();
  const releaseHolds = () => {
    for (const h of holds) h.waiters.splice(0).forEach((go) => go());
    holds.clear();
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const operation =
      req.method === 'POST' && url.pathname === '/v1/speech'
        ? 'synthesize'
        : req.method === 'GET' && url.pathname === '/v1/voices'
          ? 'describe'
          : undefined;
    if (!operation) return sendError(res, 404, 'UnknownOperationException', `no operation at ${req.method} ${url.pathname}`);

    let record: SynthRequest | undefined;
    let input: Record<string, unknown> = {};
    if (operation === 'synthesize') {
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return sendError(res, 400, 'SerializationException', 'the request body is not JSON');
      }
      record = {
        voiceId: String(input.VoiceId ?? ''),
        engine: String(input.Engine ?? 'standard'),
        text: String(input.Text ?? ''),
        textType: String(input.TextType ?? 'text'),
        outputFormat: String(input.OutputFormat ?? ''),
        sampleRate: input.SampleRate === undefined ? undefined : String(input.SampleRate),
        status: 0,
      };
      synthRequests.push(record);
    } else {
      describeCount++;
    }
    const answer = (status: number, type: string, message: string) => {
      if (record) record.status = status;
      sendError(res, status, type, message);
    };

    const rule = record && [...failRules].find((f) => f.match(record!));
    const failure = outage || rule?.kind || pendingFailures.shift();
    if (failure === 'reset') {
      req.socket.destroy();
      return;
    }
    if (failure === 'unavailable') return answer(503, 'ServiceUnavailableException', 'Service Unavailable');
    if (failure === 'failure') return answer(500, 'ServiceFailureException', 'An internal error occurred');
    if (failure === 'throttle') return answer(400, 'ThrottlingException', 'Rate exceeded');

    // Real Polly rejects unsigned requests before anything else.
    const authorization = req.headers.authorization ?? '';
    if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/polly\/aws4_request/.test(authorization)) {
      return answer(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }

    if (operation === 'describe') {
      const engine = url.searchParams.get('Engine');
      const matching = engine ? voices.filter((x) => x.SupportedEngines.includes(engine)) : voices;
      const token = url.searchParams.get('NextToken');
      const start = token === null ? 0 : decodeToken(token, engine);
      if (start === undefined || start > matching.length) {
        return answer(400, 'InvalidNextTokenException', 'The NextToken is invalid');
      }
      const end = start + pageSize;
      const page: Record<string, unknown> = { Voices: matching.slice(start, end) };
      if (end < matching.length) page.NextToken = encodeToken(end, engine);
      return sendJson(res, 200, page);
    }

    const r = record!;
    const problem = validateSynthesis(r, voices);
    if (problem) return answer(problem.status, problem.type, problem.message);

    inFlight++;
    peakConcurrency = Math.max(peakConcurrency, inFlight);
    try {
      for (const h of holds) {
        if (h.match(r)) await new Promise<void>((go) => h.waiters.push(go));
      }
      const delay = latencyMs(r.text);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const mp3 = audio(r);
      const billed = billedChars(r.text, r.textType);
      billedCharacters += billed;
      r.status = 200;
      res.writeHead(200, {
        'content-type': 'audio/mpeg',
        'content-length': mp3.length,
        'x-amzn-requestcharacters': String(billed),
        'x-amzn-requestid': requestId(),
      });
      res.end(mp3);
    } finally {
      inFlight--;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'ServiceFailureException', `test server error: ${String(error)}`);
      else res.destroy();
    });
  });
  // Longer than the SDK agent keeps idle sockets, so a reused socket is never closed under a request.
  server.keepAliveTimeout = 60_000;

  return {
    endpoint: await listenOnLoopback(server),
    synthRequests,
    get describeCount() {
      return describeCount;
    },
    get billedCharacters() {
      return billedCharacters;
    },
    get peakConcurrency() {
      return peakConcurrency;
    },
    failNext(n, kind = 'throttle') {
      for (let i = 0; i < n; i++) pendingFailures.push(kind);
    },
    failWhere(match, kind = 'failure') {
      const rule = { match, kind };
      failRules.add(rule);
      return () => void failRules.delete(rule);
    },
    hold(match = () => true) {
      const h = { match, waiters: [] as Array<() => void> };
      holds.add(h);
      return {
        get waiting() {
          return h.waiters.length;
        },
        release(count) {
          if (count === undefined) holds.delete(h);
          h.waiters.splice(0, count ?? h.waiters.length).forEach((go) => go());
        },
      };
    },
    setOutage(value) {
      outage = value === true ? 'unavailable' : value;
    },
    setLatency(fn) {
      latencyMs = fn;
    },
    setAudio(fn) {
      audio = fn;
    },
    reset() {
      synthRequests.length = 0;
      describeCount = 0;
      billedCharacters = 0;
      peakConcurrency = 0;
      pendingFailures.length = 0;
      outage = false;
      failRules.clear();
      releaseHolds();
    },
    close: () => {
      releaseHolds();
      return closeNow(server);
    },
  };
}

function validateSynthesis(
  r: SynthRequest,
  voices: readonly PollyVoiceFixture[],
): { status: number; type: string; message: string } | undefined {
  const invalid = (message: string) => ({ status: 400, type: 'ValidationException', message });
  if (!r.text) return invalid("1 validation error detected: Value null at 'text' failed to satisfy constraint: Member must not be null");
  if (r.outputFormat !== 'mp3') {
    // Polly also speaks ogg_vorbis, ogg_opus, pcm, mulaw, alaw and json; this server only makes MP3.
    return invalid(`this test server only produces OutputFormat mp3, not '${r.outputFormat}'`);
  }
  if (r.textType !== 'text' && r.textType !== 'ssml') {
    return invalid(`1 validation error detected: Value '${r.textType}' at 'textType' failed to satisfy constraint: Member must satisfy enum value set: [ssml, text]`);
  }
  if (r.sampleRate !== undefined && !MP3_SAMPLE_RATES.has(r.sampleRate)) {
    return { status: 400, type: 'InvalidSampleRateException', message: `Invalid sample rate: ${r.sampleRate}` };
  }
  const voice = voices.find((x) => x.Id === r.voiceId);
  if (!voice) {
    // VoiceId is an enum in Polly's model, so an unknown id fails input validation.
    return invalid(`1 validation error detected: Value '${r.voiceId}' at 'voiceId' failed to satisfy constraint: Member must satisfy enum value set`);
  }
  if (!voice.SupportedEngines.includes(r.engine)) {
    return {
      status: 400,
      type: 'EngineNotSupportedException',
      message: `This voice does not support the selected engine: ${r.engine}`,
    };
  }
  if (r.textType === 'ssml' && !/^\s*<speak[\s>][\s\S]*<\/speak>\s*$/.test(r.text)) {
    return { status: 400, type: 'InvalidSsmlException', message: 'Unsupported Ssml: the text is not a <speak> document' };
  }
  const total = [...r.text].length;
  const billed = billedChars(r.text, r.textType);
  if (billed > MAX_BILLED_CHARS || total > MAX_TOTAL_CHARS) {
    return {
      status: 400,
      type: 'TextLengthExceededException',
      message: `Maximum text length has been exceeded: ${billed} billed characters (limit ${MAX_BILLED_CHARS})`,
    };
  }
  return undefined;
}

/** Polly bills every character of plain text, and the text outside the tags of SSML. */
function billedChars(text: string, textType: string): number {
  const spoken = textType === 'ssml' ? text.replace(/<[^>]*>/g, '') : text;
  // Characters, not UTF-16 code units: an emoji is one character.
  return [...spoken].length;
}

function encodeToken(offset: number, engine: string | null): string {
  return Buffer.from(JSON.stringify({ offset, engine })).toString('base64url');
}

function decodeToken(token: string, engine: string | null): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown; engine?: unknown };
    return Number.isInteger(parsed.offset) && parsed.engine === engine ? (parsed.offset as number) : undefined;
  } catch {
    return undefined;
  }
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  // Polly names the error in x-amzn-errortype, and the SDK reads the message from the JSON body.
  sendJson(res, status, { message }, { 'x-amzn-errortype': type });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'x-amzn-requestid': requestId(),
    ...headers,
  });
  res.end(json);
}

function requestId(): string {
  return randomUUID();
}

// ---- the audio ----

/** About how long a Polly voice takes to say one character (roughly 15 characters a second). */
export const FAKE_SPEECH_MS_PER_CHAR = 65;
const SAMPLE_RATE = 22050;
const LAME_FRAME = 1152;
/** Samples in one clip: ten encoder frames, about 0.52 s. */
const CLIP_SAMPLES = LAME_FRAME * 10;
let clip: Uint8Array | undefined;

/**
 * A real MP3 (MPEG-2 layer III, 22050 Hz mono, 32 kbit/s CBR, no ID3 or Xing header, like Polly's
 * output) of a quiet tone, about FAKE_SPEECH_MS_PER_CHAR per character of text and at least one clip
 * long. It repeats one complete encoded clip, so every clip starts clean (no bit reservoir reaching
 * back across the seams) and any decoder plays the whole thing.
 */
export function fakeSpeechMp3(text: string): Uint8Array {
  clip ??= encodeToneClip();
  const clipMs = (CLIP_SAMPLES / SAMPLE_RATE) * 1000;
  const clips = Math.max(1, Math.ceil(([...text].length * FAKE_SPEECH_MS_PER_CHAR) / clipMs));
  const out = new Uint8Array(clip.length * clips);
  for (let i = 0; i < clips; i++) out.set(clip, i * clip.length);
  return out;
}

function encodeToneClip(): Uint8Array {
  const encoder = new Mp3Encoder(1, SAMPLE_RATE, 32);
  const parts: Uint8Array[] = [];
  // lamejs returns Int8Arrays whatever its types say; view the same bytes as unsigned.
  const push = (b: Uint8Array) => {
    const bytes = b as unknown as Int8Array;
    parts.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  };
  const fade = SAMPLE_RATE / 50; // 20 ms in and out, so the seams do not click
  const frame = new Int16Array(LAME_FRAME);
  for (let start = 0; start < CLIP_SAMPLES; start += LAME_FRAME) {
    for (let j = 0; j < LAME_FRAME; j++) {
      const n = start + j;
      const envelope = Math.min(1, n / fade, (CLIP_SAMPLES - n) / fade);
      frame[j] = Math.round(2000 * envelope * Math.sin((2 * Math.PI * 220 * n) / SAMPLE_RATE));
    }
    push(encoder.encodeBuffer(frame));
  }
  push(encoder.flush());
  return Buffer.concat(parts);
}
