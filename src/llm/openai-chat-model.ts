// ChatModel on any OpenAI-compatible chat completions server (OpenAI, Ollama, llama.cpp, vLLM)
// through the official openai SDK, streaming (stream: true).
import OpenAI, { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ChatModel, ChatRequest } from './chat-model.ts';
import { LlmError } from '../errors.ts';
import { describeNetworkError, displayUrl, isTimeoutError, parseRetryAfter, safeDetail } from './provider-errors.ts';

const PROVIDER = 'openai';

/** Local servers such as Ollama want no key, but the SDK refuses to start without one. */
const PLACEHOLDER_API_KEY = 'no-key';

export interface OpenAiChatModelOptions {
  /** e.g. http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1 */
  baseUrl: string;
  apiKey?: string;
  /** e.g. llama3.2 */
  model: string;
  /** The longest reply, in tokens (LLM_MAX_OUTPUT_TOKENS); sent as max_tokens. */
  maxOutputTokens: number;
}

export function createOpenAiChatModel(opts: OpenAiChatModelOptions): ChatModel {
  const client = new OpenAI({
    baseURL: opts.baseUrl,
    apiKey: opts.apiKey || PLACEHOLDER_API_KEY,
    // A 429 goes back to our client with its Retry-After; retrying here would only double the wait.
    maxRetries: 0,
    // Explicit values, so that OPENAI_ORG_ID and friends in the environment are not picked up silently.
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    logLevel: 'warn',
  });

  return {
    provider: PROVIDER,
    description: `openai-compatible (${opts.model} at ${displayUrl(opts.baseUrl)})`,

    async *stream(request: ChatRequest): AsyncGenerator<string, void, undefined> {
      let chunksSeen = 0;
      let text = '';
      let choiceSeen = false;
      let finishReason: string | undefined;
      try {
        const chunks = await client.chat.completions.create(
          {
            model: opts.model,
            messages: toMessages(request),
            // max_tokens, although OpenAI has deprecated it, because it is the name Ollama, llama.cpp
            // and vLLM all read. Limit: OpenAI's own reasoning models (o1, o3 and later) refuse it
            // with a 400 and want max_completion_tokens, which not every local server reads (Ollama's
            // OpenAI layer did not), so sending that instead would drop the limit there.
            max_tokens: opts.maxOutputTokens,
            stream: true,
          },
          // Leaving the loop below early makes the SDK abort the request, which drops the connection.
          { signal: request.signal },
        );
        for await (const chunk of chunks) {
          chunksSeen += 1;
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          choiceSeen = true;
          finishReason = choice.finish_reason ?? finishReason;
          const delta = choice.delta?.content;
          if (!delta) continue;
          text += delta;
          yield delta;
        }
      } catch (error) {
        throw toLlmError(error, request.signal, opts.apiKey, chunksSeen > 0);
      }
      // The SDK ends a stream quietly when its request is aborted mid-way: what came so far is not the reply.
      if (request.signal.aborted) {
        throw new LlmError(PROVIDER, 'timeout', 'openai did not answer in time', undefined, { cause: request.signal.reason });
      }
      // A reply cut at the limit (finish_reason "length") is still the model's reply.
      if (text.trim()) return;
      const why = !choiceSeen
        ? 'no choices'
        : finishReason && finishReason !== 'stop'
          ? `finish reason: ${finishReason}`
          : 'empty reply';
      throw new LlmError(PROVIDER, 'failed', `openai returned no text (${why})`);
    },
  };
}

function toMessages(request: ChatRequest): ChatCompletionMessageParam[] {
  return [
    ...(request.systemPrompt.trim() ? [{ role: 'system' as const, content: request.systemPrompt }] : []),
    ...request.history.map((turn) =>
      turn.role === 'user'
        ? { role: 'user' as const, content: turn.content }
        : { role: 'assistant' as const, content: turn.content },
    ),
    { role: 'user', content: request.message },
  ];
}

/**
 * The same mapping before and during the stream. An error event in the stream has no HTTP status of
 * its own; vLLM puts one in the error's numeric `code`, which then counts as the status. `midReply`
 * only adds those words to a failure, so that a reply broken off part way can be told from one that
 * never started.
 */
function toLlmError(error: unknown, signal: AbortSignal, apiKey: string | undefined, midReply: boolean): LlmError {
  const timedOut =
    signal.aborted ||
    error instanceof APIUserAbortError ||
    error instanceof APIConnectionTimeoutError ||
    isTimeoutError(error);
  if (timedOut) {
    return new LlmError(PROVIDER, 'timeout', 'openai did not answer in time', undefined, { cause: error });
  }
  const failed = midReply ? 'openai failed mid-reply' : 'openai failed';
  if (error instanceof APIError && (error.status !== undefined || error.error !== undefined)) {
    // error.error is the body's `error` object; its message is the server's own words.
    const body = error.error as { message?: unknown; code?: unknown } | undefined;
    const detail = safeDetail(typeof body?.message === 'string' ? body.message : error.message, apiKey);
    const status = error.status ?? (typeof body?.code === 'number' ? body.code : undefined);
    if (status === 429) {
      const retryAfter = retryAfterFrom(error.headers);
      return new LlmError(PROVIDER, 'rate_limited', `openai is rate limited: ${detail}`, retryAfter, { cause: error });
    }
    const statusText = status === undefined ? '' : `HTTP ${status} `;
    return new LlmError(PROVIDER, 'failed', `${failed}: ${statusText}${detail}`, undefined, { cause: error });
  }
  // APIConnectionError and anything else: the reason is in the cause (ECONNREFUSED and the like).
  const cause = error instanceof APIError && error.cause ? error.cause : error;
  return new LlmError(PROVIDER, 'failed', `${failed}: ${safeDetail(describeNetworkError(cause), apiKey)}`, undefined, {
    cause: error,
  });
}

/** OpenAI sends retry-after-ms next to the standard Retry-After; either may be absent. */
function retryAfterFrom(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return Math.ceil(ms / 1000);
  return parseRetryAfter(headers?.get('retry-after'));
}
