/**
 * A loopback stand-in for the Gemini API that speaks its real HTTP protocol, so that tests and
 * benchmarks drive the real @google/genai client (and through it our ChatModel) without a network.
 *
 *   const gemini = await startGeminiServer();
 *   const model = createGeminiChatModel({ apiKey: 'test-key', model: 'gemini-2.5-flash', baseUrl: gemini.url, maxOutputTokens: 2048 });
 *   gemini.nextError(429, { retryAfter: 7 });         // script the next answer (a queue, one per request)
 *   gemini.nextDeltas(['Ahoy', ' there']);             // ...or exactly how the next reply is streamed
 *   const held = gemini.holdAfter(2);                  // the next stream stops after 2 chunks...
 *   await held; gemini.release();                      // ...until released
 *   gemini.requests[0]?.body.systemInstruction;        // see what the SDK sent
 *   await gemini.close();                              // in afterAll
 *
 * With nothing scripted it answers every request with `reply(body)`, by default a sentence that
 * quotes the last user message, so an HTTP integration test can check that a message went through.
 *
 * Protocol: `POST /v1beta/models/{model}:generateContent` with the key in `x-goog-api-key`; the
 * body has `contents` (roles user/model), optional `systemInstruction` and `generationConfig`.
 * Errors use Google's shape `{"error": {"code", "message", "status", "details"}}`, and a 429 states
 * its wait as google.rpc.RetryInfo `retryDelay` (and, here, optionally a Retry-After header).
 *
 * Streaming: `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` gets the same answers as
 * server-sent events, `data: {GenerateContentResponse}\r\n\r\n` per chunk: each chunk one piece of
 * the text in candidates[0].content.parts, the last one also with finishReason and usageMetadata.
 * A reply is cut into chunks of `chunkChars` characters (default 24), unless nextDeltas() says how.
 * Errors before the stream are plain HTTP errors, as above. An error mid-stream (nextStreamError) is
 * what the API sends, a `data: {"error": {...}}` event, which the SDK raises as an ApiError; or a
 * connection cut after some chunks, which the SDK raises as a network error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  DROP_CONNECTION,
  createStreamControls,
  startScriptedJsonServer,
  type EventStreamAnswer,
  type JsonAnswer,
  type ScriptedAnswer,
  type StreamControls,
  type StreamRate,
} from './scripted-json-server.ts';

export type { StreamRate } from './scripted-json-server.ts';

export interface GeminiPart {
  text?: string;
  thought?: boolean;
}

export interface GeminiContent {
  role?: string;
  parts?: GeminiPart[];
}

/** The generateContent body as the SDK sends it (only the fields tests look at are typed). */
export interface GeminiRequestBody {
  contents?: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface RecordedGeminiRequest {
  method: string;
  /** The path without the query string, e.g. /v1beta/models/gemini-2.5-flash:streamGenerateContent */
  path: string;
  /** The model named in the path, when the path is a generateContent or streamGenerateContent call. */
  model: string | undefined;
  /** True for streamGenerateContent. */
  streaming: boolean;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or {} when it was empty or not JSON. */
  body: GeminiRequestBody;
  /** Set when the client hung up before the answer was complete, e.g. because its request was aborted. */
  clientAborted: boolean;
  /** Chunks of the streamed answer sent so far, counted as they go out. */
  chunksSent: number;
}

/** One scripted piece of a reply: text, or a thought part. */
export type GeminiDelta = string | { thought: string };

/** Computes the default answer's text from a request. */
export type GeminiReplyFn = (body: GeminiRequestBody, request: RecordedGeminiRequest) => string;

export interface GeminiErrorOptions {
  /** The error's message; defaults to a Google-like one for the status. */
  message?: string;
  /** Sent as a Retry-After header (seconds or an HTTP date). */
  retryAfter?: number | string;
  /** Sent as RetryInfo.retryDelay in the error details, e.g. "7s" (what the real API does on 429). */
  retryDelay?: string;
}

export interface GeminiStreamErrorOptions {
  /** 'event' (default): a `data: {"error": {...}}` event, then the end; 'drop': the connection is cut. */
  as?: 'event' | 'drop';
  /** The error's code, an HTTP status; default 500. */
  status?: number;
  /** The error's message; defaults to a Google-like one for the status. */
  message?: string;
  /** RetryInfo.retryDelay in the error's details, e.g. "7s". */
  retryDelay?: string;
  /** The reply whose first chunks go out before the failure; default: the server's reply for the request. */
  text?: string;
}

export interface GeminiServerOptions {
  /** When set, other keys get the 400 API_KEY_INVALID that Google sends. */
  apiKey?: string;
  reply?: GeminiReplyFn;
  /** Delay before every answer (before a stream's headers), e.g. to simulate model latency in benchmarks. */
  delayMs?: number;
  /** Characters (code points) per streamed chunk; default 24. */
  chunkChars?: number;
  /** Paces every stream; unset, chunks go out back to back. */
  streamRate?: StreamRate;
}

export interface GeminiServer extends StreamControls {
  /** The base URL for GEMINI_BASE_URL / `baseUrl`, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedGeminiRequest[];
  /** The next request is answered with this text. */
  nextReply(text: string, delayMs?: number): void;
  /**
   * The next request is answered with these pieces: a stream sends exactly these chunks, one part
   * each, generateContent one candidate with all the parts. `{ thought }` is a thought part, as
   * thinking models send with includeThoughts.
   */
  nextDeltas(deltas: GeminiDelta[], delayMs?: number): void;
  /** The next answer is this text cut at the output token limit: finishReason MAX_TOKENS. */
  nextTruncated(text: string): void;
  /** The next request fails with this HTTP status and a Google error body (a stream fails before it starts). */
  nextError(status: number, options?: GeminiErrorOptions & { delayMs?: number }): void;
  /**
   * The next stream sends its first `afterChunks` chunks (without a finishReason), then fails as
   * `options.as` says. A generateContent request gets the error as its HTTP status, or the cut.
   */
  nextStreamError(afterChunks: number, options?: GeminiStreamErrorOptions): void;
  /** The next request's prompt is blocked: `promptFeedback.blockReason`, no candidates. */
  nextBlocked(blockReason?: string): void;
  /** The next answer is a candidate that stopped with this reason and no text (e.g. SAFETY). */
  nextNoText(finishReason?: string): void;
  /** The next answer has an empty candidate list. */
  nextEmpty(): void;
  /** The next answer comes after this many milliseconds (and is otherwise the default). */
  nextDelay(delayMs: number): void;
  /** Replaces the default answer for unscripted requests. */
  setReply(reply: GeminiReplyFn): void;
  /** Delay before every answer from now on. */
  setDelay(delayMs: number): void;
  /** Forgets scripts and recorded requests; restores the default reply, delay, chunk size and rate; releases held streams. */
  reset(): void;
  close(): Promise<void>;
}

/** The text of the last user turn in a generateContent body ('' when there is none). */
export function lastUserText(body: GeminiRequestBody): string {
  const lastUser = [...(body.contents ?? [])].reverse().find((c) => c.role === 'user');
  return (lastUser?.parts ?? []).map((p) => p.text ?? '').join('');
}

export const defaultGeminiReply: GeminiReplyFn = (body) => `You said: ${lastUserText(body)}`;

/** What an answer says, whichever of the two protocols (JSON or a stream) it is sent in. */
type Outcome =
  /** Text: `text` undefined is the server's reply for the request; `deltas` fixes the chunks. */
  | { kind: 'text'; text?: string; deltas?: GeminiDelta[]; finishReason: string }
  | { kind: 'error'; status: number; options: GeminiErrorOptions }
  | { kind: 'streamError'; afterChunks: number; options: GeminiStreamErrorOptions }
  | { kind: 'blocked'; blockReason: string }
  | { kind: 'noText'; finishReason: string }
  | { kind: 'empty' };

type Step = { outcome: Outcome; delayMs: number | undefined };

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

function errorBody(status: number, options: { message?: string; retryDelay?: string }) {
  const details = options.retryDelay
    ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: options.retryDelay }]
    : undefined;
  return {
    error: {
      code: status,
      message: options.message ?? `fake gemini error ${status}`,
      status: GOOGLE_STATUS[status] ?? 'UNKNOWN',
      ...(details ? { details } : {}),
    },
  };
}

function errorAnswer(status: number, options: GeminiErrorOptions = {}): JsonAnswer {
  return {
    status,
    headers: options.retryAfter !== undefined ? { 'retry-after': String(options.retryAfter) } : undefined,
    body: errorBody(status, options),
  };
}

const USAGE = { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 };

const partOf = (delta: GeminiDelta): GeminiPart =>
  typeof delta === 'string' ? { text: delta } : { text: delta.thought, thought: true };

function candidateWith(deltas: GeminiDelta[], finishReason: string | undefined) {
  return {
    content: { role: 'model', parts: deltas.map(partOf) },
    ...(finishReason ? { finishReason } : {}),
    index: 0,
  };
}

/** One SSE chunk as streamGenerateContent?alt=sse frames it. */
const frame = (response: unknown) => `data: ${JSON.stringify(response)}\r\n\r\n`;

const PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

export async function startGeminiServer(options: GeminiServerOptions = {}): Promise<GeminiServer> {
  const script: Step[] = [];
  let reply = options.reply ?? defaultGeminiReply;
  let delayMs = options.delayMs ?? 0;
  const streams = createStreamControls(options);

  const piecesOf = (outcome: { text?: string; deltas?: GeminiDelta[] }, req: RecordedGeminiRequest): GeminiDelta[] =>
    outcome.deltas ?? [outcome.text ?? reply(req.body, req)];

  /** The answer to a generateContent call. */
  const asJson = (outcome: Outcome, req: RecordedGeminiRequest): ScriptedAnswer => {
    switch (outcome.kind) {
      case 'text':
        return {
          status: 200,
          body: {
            candidates: [candidateWith(piecesOf(outcome, req), outcome.finishReason)],
            usageMetadata: USAGE,
            modelVersion: req.model,
          },
        };
      case 'error':
        return errorAnswer(outcome.status, outcome.options);
      case 'streamError':
        return outcome.options.as === 'drop' ? DROP_CONNECTION : errorAnswer(outcome.options.status ?? 500, outcome.options);
      case 'blocked':
        return { status: 200, body: { promptFeedback: { blockReason: outcome.blockReason } } };
      case 'noText':
        return { status: 200, body: { candidates: [candidateWith([], outcome.finishReason)] } };
      case 'empty':
        return { status: 200, body: { candidates: [] } };
    }
  };

  /** The answer to a streamGenerateContent call: errors before the stream stay plain HTTP errors. */
  const asStream = (outcome: Outcome, req: RecordedGeminiRequest): ScriptedAnswer => {
    if (outcome.kind === 'error') return errorAnswer(outcome.status, outcome.options);
    return { ...eventsOf(outcome, req), ...streams.takeStreamSettings() };
  };

  const eventsOf = (
    outcome: Exclude<Outcome, { kind: 'error' }>,
    req: RecordedGeminiRequest,
  ): Pick<EventStreamAnswer, 'chunks' | 'ending'> => {
    const textChunk = (piece: GeminiDelta, finishReason: string | undefined) => ({
      frame: frame({
        candidates: [candidateWith([piece], finishReason)],
        ...(finishReason ? { usageMetadata: USAGE } : {}),
        modelVersion: req.model,
      }),
      chars: Array.from(typeof piece === 'string' ? piece : piece.thought).length,
    });
    const onlyChunk = (response: object) => ({
      chunks: [{ frame: frame({ ...response, modelVersion: req.model }), chars: 0 }],
      ending: [],
    });
    switch (outcome.kind) {
      case 'text': {
        const pieces = outcome.deltas ?? streams.cut(outcome.text ?? reply(req.body, req));
        const last = pieces.length - 1;
        return { chunks: pieces.map((piece, i) => textChunk(piece, i === last ? outcome.finishReason : undefined)), ending: [] };
      }
      case 'streamError': {
        const { as = 'event', status = 500, text } = outcome.options;
        const pieces = streams.cut(text ?? reply(req.body, req)).slice(0, outcome.afterChunks);
        return {
          chunks: pieces.map((piece) => textChunk(piece, undefined)),
          ending: as === 'drop' ? 'drop' : [frame(errorBody(status, outcome.options))],
        };
      }
      case 'blocked':
        return onlyChunk({ promptFeedback: { blockReason: outcome.blockReason }, usageMetadata: USAGE });
      case 'noText':
        return onlyChunk({ candidates: [candidateWith([], outcome.finishReason)], usageMetadata: USAGE });
      case 'empty':
        return onlyChunk({ candidates: [] });
    }
  };

  const answerFor = (req: RecordedGeminiRequest): { answer: ScriptedAnswer; delayMs: number } => {
    if (req.method !== 'POST' || req.model === undefined) {
      return { answer: errorAnswer(404, { message: `no such method: ${req.method} ${req.path}` }), delayMs: 0 };
    }
    if (options.apiKey !== undefined && req.headers['x-goog-api-key'] !== options.apiKey) {
      return { answer: errorAnswer(400, { message: 'API key not valid. Please pass a valid API key.' }), delayMs: 0 };
    }
    const step = script.shift() ?? { outcome: { kind: 'text', finishReason: 'STOP' }, delayMs: undefined };
    return {
      answer: req.streaming ? asStream(step.outcome, req) : asJson(step.outcome, req),
      delayMs: step.delayMs ?? delayMs,
    };
  };

  const server = await startScriptedJsonServer<RecordedGeminiRequest>({
    contentType: 'application/json; charset=UTF-8',
    record: (received) => {
      const match = PATH.exec(received.path);
      return { ...received, model: match?.[1], streaming: match?.[2] === 'streamGenerateContent' };
    },
    answer: answerFor,
  });

  const push = (outcome: Outcome, stepDelay?: number) => script.push({ outcome, delayMs: stepDelay });

  return {
    url: server.origin,
    requests: server.requests,
    nextReply: (text, stepDelay) => push({ kind: 'text', text, finishReason: 'STOP' }, stepDelay),
    nextDeltas: (deltas, stepDelay) => push({ kind: 'text', deltas: [...deltas], finishReason: 'STOP' }, stepDelay),
    nextTruncated: (text) => push({ kind: 'text', text, finishReason: 'MAX_TOKENS' }),
    nextError: (status, { delayMs: stepDelay, ...errorOptions } = {}) =>
      push({ kind: 'error', status, options: errorOptions }, stepDelay),
    nextStreamError: (afterChunks, streamErrorOptions = {}) =>
      push({ kind: 'streamError', afterChunks, options: streamErrorOptions }),
    nextBlocked: (blockReason = 'SAFETY') => push({ kind: 'blocked', blockReason }),
    nextNoText: (finishReason = 'SAFETY') => push({ kind: 'noText', finishReason }),
    nextEmpty: () => push({ kind: 'empty' }),
    nextDelay: (stepDelay) => push({ kind: 'text', finishReason: 'STOP' }, stepDelay),
    setReply: (fn) => {
      reply = fn;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    ...streams.controls,
    reset: () => {
      script.length = 0;
      server.requests.length = 0;
      reply = options.reply ?? defaultGeminiReply;
      delayMs = options.delayMs ?? 0;
      streams.reset();
    },
    close: () => {
      streams.reset();
      return server.close();
    },
  };
}
