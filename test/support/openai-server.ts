/**
 * A loopback stand-in for an OpenAI-compatible chat completions server (OpenAI, Ollama, llama.cpp,
 * vLLM) that speaks the real HTTP protocol, so tests and benchmarks drive the real openai SDK.
 *
 *   const openai = await startOpenAiServer();         // serves under /v1 by default
 *   const model = createOpenAiChatModel({ baseUrl: openai.url, model: 'llama3.2', maxOutputTokens: 2048 });
 *   openai.nextError(429, { retryAfter: 3 });          // script the next answer (a queue, one per request)
 *   openai.requests[0]?.body.messages;                 // see what the SDK sent
 *   await openai.close();                              // in afterAll
 *
 * With nothing scripted it answers every request with `reply(body)`, by default a sentence that
 * quotes the last user message.
 *
 * Protocol: `POST {basePath}/chat/completions` with `Authorization: Bearer <key>` and a body of
 * `model` and `messages` (roles system/user/assistant). The answer is a `chat.completion` object;
 * errors are `{"error": {"message", "type", "code"}}` with the HTTP status, and a 429 may carry
 * Retry-After. Streaming (`stream: true`) is not implemented and gets a 400.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { startScriptedJsonServer, type JsonAnswer } from './scripted-json-server.ts';

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
  /** Set when the client hung up before the answer was sent, e.g. because its request was aborted. */
  clientAborted: boolean;
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

export interface OpenAiServerOptions {
  /** Where the API lives; the SDK's baseURL is the server's origin plus this. Default /v1. */
  basePath?: string;
  /** When set, other bearer tokens get a 401 invalid_api_key. Unset: no auth, as with Ollama. */
  apiKey?: string;
  reply?: OpenAiReplyFn;
  /** Delay before every answer, e.g. to simulate model latency in benchmarks. */
  delayMs?: number;
}

export interface OpenAiServer {
  /** The base URL for OPENAI_BASE_URL / `baseUrl`, e.g. http://127.0.0.1:41234/v1 */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedOpenAiRequest[];
  /** The next request is answered with this text. */
  nextReply(text: string, delayMs?: number): void;
  /** The next answer is this text cut at the output token limit: finish_reason "length". */
  nextTruncated(text: string): void;
  /** The next request fails with this HTTP status and an OpenAI error body. */
  nextError(status: number, options?: OpenAiErrorOptions & { delayMs?: number }): void;
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
  /** Forgets scripted answers and recorded requests; restores the default reply and delay. */
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

type Step = { answer: (req: RecordedOpenAiRequest) => JsonAnswer; delayMs: number | undefined };

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

let completionCount = 0;

function completion(model: string | undefined, content: string | null, finishReason: string): JsonAnswer {
  completionCount += 1;
  return {
    status: 200,
    body: {
      id: `chatcmpl-fake-${completionCount}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model ?? 'unknown',
      choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: finishReason }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  };
}

export async function startOpenAiServer(options: OpenAiServerOptions = {}): Promise<OpenAiServer> {
  const basePath = (options.basePath ?? '/v1').replace(/\/+$/, '');
  const script: Step[] = [];
  let reply = options.reply ?? defaultOpenAiReply;
  let delayMs = options.delayMs ?? 0;

  const answerFor = (req: RecordedOpenAiRequest): { answer: JsonAnswer; delayMs: number } => {
    if (req.method !== 'POST' || req.path !== `${basePath}/chat/completions`) {
      return { answer: errorAnswer(404, { message: `no such route: ${req.method} ${req.path}` }), delayMs: 0 };
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return {
        answer: errorAnswer(401, { message: 'Incorrect API key provided.', code: 'invalid_api_key' }),
        delayMs: 0,
      };
    }
    if (req.body.stream) {
      return { answer: errorAnswer(400, { message: 'this fake server does not stream' }), delayMs: 0 };
    }
    const step = script.shift();
    if (step) return { answer: step.answer(req), delayMs: step.delayMs ?? delayMs };
    return { answer: completion(req.body.model, reply(req.body, req), 'stop'), delayMs };
  };

  const server = await startScriptedJsonServer<RecordedOpenAiRequest>({
    contentType: 'application/json',
    record: (received) => received,
    answer: answerFor,
  });

  const push = (answer: Step['answer'], stepDelay?: number) => script.push({ answer, delayMs: stepDelay });

  return {
    url: `${server.origin}${basePath}`,
    requests: server.requests,
    nextReply: (text, stepDelay) => push((req) => completion(req.body.model, text, 'stop'), stepDelay),
    nextTruncated: (text) => push((req) => completion(req.body.model, text, 'length')),
    nextError: (status, { delayMs: stepDelay, ...errorOptions } = {}) =>
      push(() => errorAnswer(status, errorOptions), stepDelay),
    nextNoText: (finishReason = 'content_filter') => push((req) => completion(req.body.model, null, finishReason)),
    nextEmpty: () =>
      push((req) => {
        const answer = completion(req.body.model, null, 'stop');
        return { ...answer, body: { ...(answer.body as object), choices: [] } };
      }),
    nextDelay: (stepDelay) => push((req) => completion(req.body.model, reply(req.body, req), 'stop'), stepDelay),
    setReply: (fn) => {
      reply = fn;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    reset: () => {
      script.length = 0;
      server.requests.length = 0;
      reply = options.reply ?? defaultOpenAiReply;
      delayMs = options.delayMs ?? 0;
    },
    close: () => server.close(),
  };
}
