/**
 * A loopback stand-in for an OpenAI-compatible chat completions server (OpenAI, Ollama, llama.cpp,
 * vLLM) that speaks the real HTTP protocol, so tests and benchmarks drive the real openai SDK.
 *
 *   const openai = await startOpenAiServer();         // serves under /v1 by default
 *   const model = createOpenAiChatModel({ baseUrl: openai.url, model: 'llama3.2', maxOutputTokens: 2048 });
 *   openai.nextError(429, { retryAfter: 3 });          // script the next answer (a queue, one per request)
 *   openai.nextDeltas(['Ahoy', ' there']);             // ...or exactly how the next reply is streamed
 *   const held = openai.holdAfter(2);                  // the next stream stops after 2 chunks...
 *   await held; openai.release();                      // ...until released
 *   openai.requests[0]?.body.messages;                 // see what the SDK sent
 *   await openai.close();                              // in afterAll
 *
 * With nothing scripted it answers every request with `reply(body)`, by default a sentence that
 * quotes the last user message.
 *
 * Protocol: `POST {basePath}/chat/completions` with `Authorization: Bearer <key>` and a body of
 * `model` and `messages` (roles system/user/assistant). The answer is a `chat.completion` object;
 * errors are `{"error": {"message", "type", "code"}}` with the HTTP status, and a 429 may carry
 * Retry-After.
 *
 * Streaming (`stream: true`) gets the same answers as server-sent events: `data: {chat.completion.chunk}`
 * per piece of the text in choices[0].delta.content (the first with role "assistant"), then a chunk
 * with an empty delta and the finish_reason, then `data: [DONE]`. A reply is cut into chunks of
 * `chunkChars` characters (default 24), unless nextDeltas() says how. Errors before the stream are
 * plain HTTP errors, as above. An error mid-stream (nextStreamError) is a `data: {"error": {...}}`
 * event, as OpenAI, vLLM and Ollama send, which the SDK raises as an APIError without a status; or a
 * connection cut after some chunks.
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

export interface OpenAiMessage {
  role: string;
  content: string | null | Array<{ type: string; text?: string }>;
}

/** The chat completions body as the SDK sends it (only the fields tests look at are typed). */
export interface OpenAiRequestBody {
  model?: string;
  messages?: OpenAiMessage[];
  stream?: boolean;
  max_tokens?: number;
  [field: string]: unknown;
}

export interface RecordedOpenAiRequest {
  method: string;
  /** The path without the query string, e.g. /v1/chat/completions */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or {} when it was empty or not JSON. */
  body: OpenAiRequestBody;
  /** Set when the client hung up before the answer was complete, e.g. because its request was aborted. */
  clientAborted: boolean;
  /** Chunks of the streamed answer sent so far, counted as they go out. */
  chunksSent: number;
}

/** Computes the default answer's text from a request. */
export type OpenAiReplyFn = (body: OpenAiRequestBody, request: RecordedOpenAiRequest) => string;

export interface OpenAiErrorOptions {
  /** The error's message; defaults to a generic one for the status. */
  message?: string;
  /** The error's `type`, e.g. rate_limit_error; defaults from the status. */
  type?: string;
  /** Sent as a Retry-After header (seconds or an HTTP date). */
  retryAfter?: number | string;
}

export interface OpenAiStreamErrorOptions {
  /** 'event' (default): a `data: {"error": {...}}` event, then the end; 'drop': the connection is cut. */
  as?: 'event' | 'drop';
  /** The error's message; default "fake openai stream error". */
  message?: string;
  /** The error's `type`; default server_error. */
  type?: string;
  /** The error's `code`: OpenAI sends a string or null, vLLM the HTTP status as a number. Default null. */
  code?: string | number | null;
  /** The reply whose first chunks go out before the failure; default: the server's reply for the request. */
  text?: string;
}

export interface OpenAiServerOptions {
  /** Where the API lives; the SDK's baseURL is the server's origin plus this. Default /v1. */
  basePath?: string;
  /** When set, other bearer tokens get a 401 invalid_api_key. Unset: no auth, as with Ollama. */
  apiKey?: string;
  reply?: OpenAiReplyFn;
  /** Delay before every answer (before a stream's headers), e.g. to simulate model latency in benchmarks. */
  delayMs?: number;
  /** Characters (code points) per streamed chunk; default 24. */
  chunkChars?: number;
  /** Paces every stream; unset, chunks go out back to back. */
  streamRate?: StreamRate;
}

export interface OpenAiServer extends StreamControls {
  /** The base URL for OPENAI_BASE_URL / `baseUrl`, e.g. http://127.0.0.1:41234/v1 */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedOpenAiRequest[];
  /** The next request is answered with this text. */
  nextReply(text: string, delayMs?: number): void;
  /** The next request is answered with these pieces: a stream sends exactly these chunks, a plain answer their join. */
  nextDeltas(deltas: string[], delayMs?: number): void;
  /** The next answer is this text cut at the output token limit: finish_reason "length". */
  nextTruncated(text: string): void;
  /** The next request fails with this HTTP status and an OpenAI error body (a stream fails before it starts). */
  nextError(status: number, options?: OpenAiErrorOptions & { delayMs?: number }): void;
  /**
   * The next stream sends its first `afterChunks` chunks, then fails as `options.as` says. A plain
   * request gets a 500 with the error, or the cut.
   */
  nextStreamError(afterChunks: number, options?: OpenAiStreamErrorOptions): void;
  /** The next answer's only choice has null content and this finish reason (e.g. content_filter). */
  nextNoText(finishReason?: string): void;
  /** The next answer has an empty `choices` list. */
  nextEmpty(): void;
  /** The next answer comes after this many milliseconds (and is otherwise the default). */
  nextDelay(delayMs: number): void;
  /** Replaces the default answer for unscripted requests. */
  setReply(reply: OpenAiReplyFn): void;
  /** Delay before every answer from now on. */
  setDelay(delayMs: number): void;
  /** Forgets scripts and recorded requests; restores the default reply, delay, chunk size and rate; releases held streams. */
  reset(): void;
  close(): Promise<void>;
}

/** The text of the last user message in a chat completions body ('' when there is none). */
export function lastUserMessage(body: OpenAiRequestBody): string {
  const content = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content;
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => part.text ?? '').join('');
}

export const defaultOpenAiReply: OpenAiReplyFn = (body) => `You said: ${lastUserMessage(body)}`;

/** What an answer says, whichever of the two protocols (JSON or a stream) it is sent in. */
type Outcome =
  /** Text: `text` undefined is the server's reply for the request; `deltas` fixes the chunks. */
  | { kind: 'text'; text?: string; deltas?: string[]; finishReason: string }
  | { kind: 'error'; status: number; options: OpenAiErrorOptions }
  | { kind: 'streamError'; afterChunks: number; options: OpenAiStreamErrorOptions }
  | { kind: 'noText'; finishReason: string }
  | { kind: 'empty' };

type Step = { outcome: Outcome; delayMs: number | undefined };

const ERROR_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'server_error',
  503: 'server_error',
};

function errorAnswer(status: number, options: OpenAiErrorOptions & { code?: string } = {}): JsonAnswer {
  return {
    status,
    headers: options.retryAfter !== undefined ? { 'retry-after': String(options.retryAfter) } : undefined,
    body: {
      error: {
        message: options.message ?? `fake openai error ${status}`,
        type: options.type ?? ERROR_TYPE[status] ?? 'api_error',
        param: null,
        code: options.code ?? null,
      },
    },
  };
}

function streamErrorBody(options: OpenAiStreamErrorOptions) {
  return {
    error: {
      message: options.message ?? 'fake openai stream error',
      type: options.type ?? 'server_error',
      param: null,
      code: options.code ?? null,
    },
  };
}

let completionCount = 0;

function completion(model: string | undefined, content: string | null, finishReason: string, choices = true): JsonAnswer {
  completionCount += 1;
  return {
    status: 200,
    body: {
      id: `chatcmpl-fake-${completionCount}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model ?? 'unknown',
      choices: choices
        ? [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: finishReason }]
        : [],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  };
}

/** One SSE event as OpenAI frames it. */
const frame = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const DONE = 'data: [DONE]\n\n';

export async function startOpenAiServer(options: OpenAiServerOptions = {}): Promise<OpenAiServer> {
  const basePath = (options.basePath ?? '/v1').replace(/\/+$/, '');
  const script: Step[] = [];
  let reply = options.reply ?? defaultOpenAiReply;
  let delayMs = options.delayMs ?? 0;
  const streams = createStreamControls(options);

  const textOf = (outcome: { text?: string; deltas?: string[] }, req: RecordedOpenAiRequest) =>
    outcome.deltas?.join('') ?? outcome.text ?? reply(req.body, req);

  /** The answer to a plain (not streamed) request. */
  const asJson = (outcome: Outcome, req: RecordedOpenAiRequest): ScriptedAnswer => {
    switch (outcome.kind) {
      case 'text':
        return completion(req.body.model, textOf(outcome, req), outcome.finishReason);
      case 'error':
        return errorAnswer(outcome.status, outcome.options);
      case 'streamError':
        return outcome.options.as === 'drop' ? DROP_CONNECTION : { status: 500, body: streamErrorBody(outcome.options) };
      case 'noText':
        return completion(req.body.model, null, outcome.finishReason);
      case 'empty':
        return completion(req.body.model, null, 'stop', false);
    }
  };

  /** The answer to a `stream: true` request: errors before the stream stay plain HTTP errors. */
  const asStream = (outcome: Outcome, req: RecordedOpenAiRequest): ScriptedAnswer => {
    if (outcome.kind === 'error') return errorAnswer(outcome.status, outcome.options);
    return { ...eventsOf(outcome, req), ...streams.takeStreamSettings() };
  };

  const eventsOf = (
    outcome: Exclude<Outcome, { kind: 'error' }>,
    req: RecordedOpenAiRequest,
  ): Pick<EventStreamAnswer, 'chunks' | 'ending'> => {
    completionCount += 1;
    const head = {
      id: `chatcmpl-fake-${completionCount}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: req.body.model ?? 'unknown',
    };
    const chunkOf = (delta: object, finishReason: string | null) =>
      frame({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
    const textChunks = (pieces: string[]) =>
      pieces.map((content, i) => ({
        frame: chunkOf(i === 0 ? { role: 'assistant', content } : { content }, null),
        chars: Array.from(content).length,
      }));
    switch (outcome.kind) {
      case 'text':
        return {
          chunks: textChunks(outcome.deltas ?? streams.cut(textOf(outcome, req))),
          ending: [chunkOf({}, outcome.finishReason), DONE],
        };
      case 'streamError': {
        const { as = 'event', text } = outcome.options;
        return {
          chunks: textChunks(streams.cut(text ?? reply(req.body, req)).slice(0, outcome.afterChunks)),
          ending: as === 'drop' ? 'drop' : [frame(streamErrorBody(outcome.options))],
        };
      }
      case 'noText':
        return {
          chunks: [{ frame: chunkOf({ role: 'assistant', content: null }, null), chars: 0 }],
          ending: [chunkOf({}, outcome.finishReason), DONE],
        };
      case 'empty':
        return { chunks: [{ frame: frame({ ...head, choices: [] }), chars: 0 }], ending: [DONE] };
    }
  };

  const answerFor = (req: RecordedOpenAiRequest): { answer: ScriptedAnswer; delayMs: number } => {
    if (req.method !== 'POST' || req.path !== `${basePath}/chat/completions`) {
      return { answer: errorAnswer(404, { message: `no such route: ${req.method} ${req.path}` }), delayMs: 0 };
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return {
        answer: errorAnswer(401, { message: 'Incorrect API key provided.', code: 'invalid_api_key' }),
        delayMs: 0,
      };
    }
    const step = script.shift() ?? { outcome: { kind: 'text', finishReason: 'stop' }, delayMs: undefined };
    return {
      answer: req.body.stream ? asStream(step.outcome, req) : asJson(step.outcome, req),
      delayMs: step.delayMs ?? delayMs,
    };
  };

  const server = await startScriptedJsonServer<RecordedOpenAiRequest>({
    contentType: 'application/json',
    record: (received) => received,
    answer: answerFor,
  });

  const push = (outcome: Outcome, stepDelay?: number) => script.push({ outcome, delayMs: stepDelay });

  return {
    url: `${server.origin}${basePath}`,
    requests: server.requests,
    nextReply: (text, stepDelay) => push({ kind: 'text', text, finishReason: 'stop' }, stepDelay),
    nextDeltas: (deltas, stepDelay) => push({ kind: 'text', deltas: [...deltas], finishReason: 'stop' }, stepDelay),
    nextTruncated: (text) => push({ kind: 'text', text, finishReason: 'length' }),
    nextError: (status, { delayMs: stepDelay, ...errorOptions } = {}) =>
      push({ kind: 'error', status, options: errorOptions }, stepDelay),
    nextStreamError: (afterChunks, streamErrorOptions = {}) =>
      push({ kind: 'streamError', afterChunks, options: streamErrorOptions }),
    nextNoText: (finishReason = 'content_filter') => push({ kind: 'noText', finishReason }),
    nextEmpty: () => push({ kind: 'empty' }),
    nextDelay: (stepDelay) => push({ kind: 'text', finishReason: 'stop' }, stepDelay),
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
      reply = options.reply ?? defaultOpenAiReply;
      delayMs = options.delayMs ?? 0;
      streams.reset();
    },
    close: () => {
      streams.reset();
      return server.close();
    },
  };
}
