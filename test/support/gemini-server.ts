/**
 * A loopback stand-in for the Gemini API that speaks its real HTTP protocol, so that tests and
 * benchmarks drive the real @google/genai client (and through it our ChatModel) without a network.
 *
 *   const gemini = await startGeminiServer();
 *   const model = createGeminiChatModel({ apiKey: 'test-key', model: 'gemini-2.5-flash', baseUrl: gemini.url, maxOutputTokens: 2048 });
 *   gemini.nextError(429, { retryAfter: 7 });         // script the next answer (a queue, one per request)
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
 * Streaming (`:streamGenerateContent`) is not implemented and gets a 404.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { startScriptedJsonServer, type JsonAnswer } from './scripted-json-server.ts';

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
  /** The path without the query string, e.g. /v1beta/models/gemini-2.5-flash:generateContent */
  path: string;
  /** The model named in the path, when the path is a generateContent call. */
  model: string | undefined;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or {} when it was empty or not JSON. */
  body: GeminiRequestBody;
  /** Set when the client hung up before the answer was sent, e.g. because its request was aborted. */
  clientAborted: boolean;
}

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

export interface GeminiServerOptions {
  /** When set, other keys get the 400 API_KEY_INVALID that Google sends. */
  apiKey?: string;
  reply?: GeminiReplyFn;
  /** Delay before every answer, e.g. to simulate model latency in benchmarks. */
  delayMs?: number;
}

export interface GeminiServer {
  /** The base URL for GEMINI_BASE_URL / `baseUrl`, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedGeminiRequest[];
  /** The next request is answered with this text. */
  nextReply(text: string, delayMs?: number): void;
  /** The next answer is this text cut at the output token limit: finishReason MAX_TOKENS. */
  nextTruncated(text: string): void;
  /** The next request fails with this HTTP status and a Google error body. */
  nextError(status: number, options?: GeminiErrorOptions & { delayMs?: number }): void;
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
  /** Forgets scripted answers and recorded requests; restores the default reply and delay. */
  reset(): void;
  close(): Promise<void>;
}

/** The text of the last user turn in a generateContent body ('' when there is none). */
export function lastUserText(body: GeminiRequestBody): string {
  const lastUser = [...(body.contents ?? [])].reverse().find((c) => c.role === 'user');
  return (lastUser?.parts ?? []).map((p) => p.text ?? '').join('');
}

export const defaultGeminiReply: GeminiReplyFn = (body) => `You said: ${lastUserText(body)}`;

type Step = { answer: (req: RecordedGeminiRequest) => JsonAnswer; delayMs: number | undefined };

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

function errorAnswer(status: number, options: GeminiErrorOptions = {}): JsonAnswer {
  const details = options.retryDelay
    ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: options.retryDelay }]
    : undefined;
  return {
    status,
    headers: options.retryAfter !== undefined ? { 'retry-after': String(options.retryAfter) } : undefined,
    body: {
      error: {
        code: status,
        message: options.message ?? `fake gemini error ${status}`,
        status: GOOGLE_STATUS[status] ?? 'UNKNOWN',
        ...(details ? { details } : {}),
      },
    },
  };
}

function textAnswer(text: string, model: string | undefined, finishReason = 'STOP'): JsonAnswer {
  return {
    status: 200,
    body: {
      candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason, index: 0 }],
      usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
      modelVersion: model,
    },
  };
}

const GENERATE_PATH = /^\/v1beta\/models\/([^/:]+):generateContent$/;

export async function startGeminiServer(options: GeminiServerOptions = {}): Promise<GeminiServer> {
  const script: Step[] = [];
  let reply = options.reply ?? defaultGeminiReply;
  let delayMs = options.delayMs ?? 0;

  const answerFor = (req: RecordedGeminiRequest): { answer: JsonAnswer; delayMs: number } => {
    if (req.method !== 'POST' || req.model === undefined) {
      return { answer: errorAnswer(404, { message: `no such method: ${req.method} ${req.path}` }), delayMs: 0 };
    }
    if (options.apiKey !== undefined && req.headers['x-goog-api-key'] !== options.apiKey) {
      return { answer: errorAnswer(400, { message: 'API key not valid. Please pass a valid API key.' }), delayMs: 0 };
    }
    const step = script.shift();
    if (step) return { answer: step.answer(req), delayMs: step.delayMs ?? delayMs };
    return { answer: textAnswer(reply(req.body, req), req.model), delayMs };
  };

  const server = await startScriptedJsonServer<RecordedGeminiRequest>({
    contentType: 'application/json; charset=UTF-8',
    record: (received) => ({ ...received, model: GENERATE_PATH.exec(received.path)?.[1] }),
    answer: answerFor,
  });

  const push = (answer: Step['answer'], stepDelay?: number) => script.push({ answer, delayMs: stepDelay });

  return {
    url: server.origin,
    requests: server.requests,
    nextReply: (text, stepDelay) => push((req) => textAnswer(text, req.model), stepDelay),
    nextTruncated: (text) => push((req) => textAnswer(text, req.model, 'MAX_TOKENS')),
    nextError: (status, { delayMs: stepDelay, ...errorOptions } = {}) =>
      push(() => errorAnswer(status, errorOptions), stepDelay),
    nextBlocked: (blockReason = 'SAFETY') =>
      push(() => ({ status: 200, body: { promptFeedback: { blockReason } } })),
    nextNoText: (finishReason = 'SAFETY') =>
      push(() => ({
        status: 200,
        body: { candidates: [{ content: { role: 'model', parts: [] }, finishReason, index: 0 }] },
      })),
    nextEmpty: () => push(() => ({ status: 200, body: { candidates: [] } })),
    nextDelay: (stepDelay) => push((req) => textAnswer(reply(req.body, req), req.model), stepDelay),
    setReply: (fn) => {
      reply = fn;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    reset: () => {
      script.length = 0;
      server.requests.length = 0;
      reply = options.reply ?? defaultGeminiReply;
      delayMs = options.delayMs ?? 0;
    },
    close: () => server.close(),
  };
}
