/**
 * The mechanics shared by the fake JSON APIs (gemini-server.ts, openai-server.ts): a loopback HTTP
 * server that records every request with its parsed JSON body and answers it with whatever the fake
 * computes, optionally after a delay: a JSON answer {status, headers, body}, a server-sent event
 * stream, or a dropped connection. What a request means (routes, keys, scripted answers, the shape
 * of each event) is left to the fake.
 *
 * A stream is sent chunk by chunk: by default back to back, or paced at a StreamRate; it can stop at
 * a hold gate until the test releases it, and it can end in a cut connection instead of a clean end.
 * A record's `chunksSent` counts its stream's chunks as they go out.
 *
 * A record's `clientAborted` turns true when the client hangs up before its answer is complete, so a
 * test can see that an aborted SDK call really dropped its connection; a connection the fake cuts on
 * purpose does not count. close() drops pending delayed answers and held streams rather than
 * waiting for them.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenOnLoopback, readBody } from './loopback-http.ts';

export interface JsonAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string> | undefined;
}

/** A 200 answer of server-sent events. */
export interface EventStreamAnswer {
  /** The events that carry the reply, each a whole SSE frame: what holds, pacing and `chunksSent` count. */
  chunks: Array<{ frame: string; /** Characters of reply text in it, for pacing. */ chars: number }>;
  /**
   * Frames sent right after the chunks, before the answer ends (a finish event, `data: [DONE]`); or
   * 'drop' to cut the connection there instead.
   */
  ending: string[] | 'drop';
  headers?: Record<string, string> | undefined;
  /** Unset: the chunks go out back to back. */
  rate?: StreamRate | undefined;
  hold?: StreamHold | undefined;
}

/** The connection is cut before any answer is sent. */
export const DROP_CONNECTION = 'drop-connection';

/** How long a stream that ends in a cut connection waits after its last chunk. */
const DROP_PAUSE_MS = 20;

export type ScriptedAnswer = JsonAnswer | EventStreamAnswer | typeof DROP_CONNECTION;

/** The pace of a streamed answer, for benchmarks that want a model's timing. */
export interface StreamRate {
  /** Reply characters per second once the first chunk is out: each later chunk waits for its own characters. */
  charsPerSecond: number;
  /** Milliseconds from the stream's headers to its first chunk (time to first token). Default 0. */
  firstTokenMs?: number;
}

/** A gate in one stream: `afterChunks` chunks go out, then nothing (not even the end) until `released`. */
export interface StreamHold {
  afterChunks: number;
  /** Called when the stream stops at the gate. */
  onHeld(): void;
  released: Promise<void>;
}

export interface RecordedJsonRequest<Body extends object> {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or {} when it was empty or not JSON. */
  body: Body;
  clientAborted: boolean;
  /** Chunks of a streamed answer sent so far (0 for other answers). */
  chunksSent: number;
}

export interface ScriptedJsonServerOptions<Request extends RecordedJsonRequest<object>> {
  /** The content-type of every JSON answer; streams are text/event-stream. */
  contentType: string;
  /** Makes the record kept in `requests` from what was received, e.g. adding fields read from the path. */
  record(received: RecordedJsonRequest<Request['body']>): Request;
  /** Called once per request as it arrives, after it is recorded: the answer and how long to hold it back. */
  answer(request: Request): { answer: ScriptedAnswer; delayMs: number };
}

export interface ScriptedJsonServer<Request> {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Every request received, oldest first. */
  requests: Request[];
  close(): Promise<void>;
}

export async function startScriptedJsonServer<Request extends RecordedJsonRequest<object>>(
  options: ScriptedJsonServerOptions<Request>,
): Promise<ScriptedJsonServer<Request>> {
  const requests: Request[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const handle = async (incoming: IncomingMessage, res: ServerResponse) => {
    const raw = (await readBody(incoming)).toString('utf8');
    const record = options.record({
      method: incoming.method ?? 'GET',
      path: (incoming.url ?? '/').split('?')[0]!,
      headers: incoming.headers,
      body: parseJson<Request['body']>(raw),
      clientAborted: false,
      chunksSent: 0,
    });
    requests.push(record);
    let droppedOnPurpose = false;
    const closed = new Promise<void>((resolve) =>
      res.on('close', () => {
        if (!res.writableEnded && !droppedOnPurpose) record.clientAborted = true;
        resolve();
      }),
    );
    const drop = () => {
      droppedOnPurpose = true;
      res.destroy();
    };

    const { answer, delayMs } = options.answer(record);
    if (delayMs > 0) await sleep(delayMs);
    if (res.destroyed) return;
    if (answer === DROP_CONNECTION) return drop();
    if (!('chunks' in answer)) {
      res.writeHead(answer.status, { 'content-type': options.contentType, ...answer.headers });
      res.end(JSON.stringify(answer.body));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...answer.headers });
    res.flushHeaders();
    const { rate, hold } = answer;
    // A gate beyond the last chunk holds the stream's end.
    const holdAt = hold ? Math.min(hold.afterChunks, answer.chunks.length) : -1;
    let due = performance.now();
    for (let i = 0; i <= answer.chunks.length; i++) {
      if (hold && i === holdAt) {
        hold.onHeld();
        await Promise.race([hold.released, closed]);
        due = Math.max(due, performance.now());
      }
      if (res.destroyed) return;
      if (i === answer.chunks.length) break;
      const chunk = answer.chunks[i]!;
      if (rate) {
        due += i === 0 ? (rate.firstTokenMs ?? 0) : (1000 * chunk.chars) / rate.charsPerSecond;
        const wait = due - performance.now();
        if (wait > 0) await Promise.race([sleep(wait), closed]);
        if (res.destroyed) return;
      }
      res.write(chunk.frame);
      record.chunksSent += 1;
    }
    if (answer.ending === 'drop') {
      // A client's fetch discards what it has received but not yet read once the connection fails,
      // so the cut waits a moment for a client that reads as fast as it can. A test that must have
      // every chunk read first holds the stream (holdAfter) and releases it once they are.
      await Promise.race([sleep(DROP_PAUSE_MS), closed]);
      return drop();
    }
    for (const frame of answer.ending) res.write(frame);
    res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });

  return {
    origin: await listenOnLoopback(server),
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await closeNow(server);
    },
  };
}

/** The stream controls both fakes offer, with the same names: how replies are cut, paced and held. */
export interface StreamControls {
  /** Cuts a reply into chunks of this many characters (code points) from now on. */
  setChunkChars(chars: number): void;
  /** Paces every stream from now on; undefined sends chunks back to back again. */
  setStreamRate(rate: StreamRate | undefined): void;
  /**
   * The next stream sends its first `chunks` chunks, then nothing more (not even its end) until
   * release(). Resolves once that stream waits at the gate; never, if no stream gets that far.
   */
  holdAfter(chunks: number): Promise<void>;
  /** Lets every held stream go on, and cancels a holdAfter() that no stream has reached yet. */
  release(): void;
}

export interface StreamSettings {
  /** Characters (code points) per chunk when a reply is cut for streaming. Default 24: several chunks per sentence. */
  chunkChars?: number;
  /** Unset: chunks go out back to back. */
  streamRate?: StreamRate;
}

export const DEFAULT_CHUNK_CHARS = 24;

/** The state behind StreamControls, for a fake to build its EventStreamAnswers from. */
export function createStreamControls(settings: StreamSettings) {
  let chunkChars = settings.chunkChars ?? DEFAULT_CHUNK_CHARS;
  let rate = settings.streamRate;
  let armed: StreamHold | undefined;
  const gates = new Set<() => void>();

  const release = () => {
    for (const open of gates) open();
    gates.clear();
    armed = undefined;
  };

  const controls: StreamControls = {
    setChunkChars: (chars) => {
      if (!Number.isInteger(chars) || chars < 1) throw new RangeError(`chunk size must be a positive integer, not ${chars}`);
      chunkChars = chars;
    },
    setStreamRate: (next) => {
      rate = next;
    },
    holdAfter: (chunks) =>
      new Promise<void>((onHeld) => {
        let open!: () => void;
        const released = new Promise<void>((resolve) => (open = resolve));
        gates.add(open);
        armed = { afterChunks: chunks, onHeld, released };
      }),
    release,
  };

  return {
    controls,
    /** The reply cut into chunks of the current size; '' is one empty chunk, so a stream always says something. */
    cut: (text: string) => cutIntoChunks(text, chunkChars),
    /** The pacing and the armed hold (taken: only one stream gets it) for a stream about to start. */
    takeStreamSettings: () => {
      const hold = armed;
      armed = undefined;
      return { rate, hold };
    },
    /** Back to the settings the fake started with; held streams go on. */
    reset: () => {
      release();
      chunkChars = settings.chunkChars ?? DEFAULT_CHUNK_CHARS;
      rate = settings.streamRate;
    },
  };
}

/** Cuts by code points, so that an emoji is never split into halves that JSON cannot carry. */
export function cutIntoChunks(text: string, chunkChars: number): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [''];
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += chunkChars) chunks.push(chars.slice(i, i + chunkChars).join(''));
  return chunks;
}

function parseJson<Body extends object>(raw: string): Body {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Body) : ({} as Body);
  } catch {
    return {} as Body;
  }
}
