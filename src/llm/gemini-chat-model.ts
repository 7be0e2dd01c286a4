// ChatModel on Google's Gemini API through the official @google/genai SDK (generateContent, not streaming).
import { ApiError, GoogleGenAI, type Content, type GenerateContentResponse } from '@google/genai';
import type { ChatModel, ChatRequest } from './chat-model.ts';
import { LlmError } from '../errors.ts';
import { describeNetworkError, displayUrl, isTimeoutError, parseDurationSeconds, parseRetryAfter, safeDetail } from './provider-errors.ts';

const PROVIDER = 'gemini';

export interface GeminiChatModelOptions {
  apiKey: string;
  /** e.g. gemini-2.5-flash */
  model: string;
  /** Another endpoint (a proxy, a test server); the SDK appends /v1beta/models/... */
  baseUrl?: string;
  /**
   * The longest reply, in tokens (LLM_MAX_OUTPUT_TOKENS). On thinking models (2.5 and later) the
   * thoughts count against it too, so a low limit can be spent before any text is written.
   */
  maxOutputTokens: number;
}

export function createGeminiChatModel(opts: GeminiChatModelOptions): ChatModel {
  const client = new GoogleGenAI({
    apiKey: opts.apiKey,
    // Explicit, so that GOOGLE_GENAI_USE_VERTEXAI in the environment cannot switch the backend.
    vertexai: false,
    ...(opts.baseUrl ? { httpOptions: { baseUrl: opts.baseUrl } } : {}),
  });

  return {
    provider: PROVIDER,
    description: `gemini (${opts.model}${opts.baseUrl ? ` at ${displayUrl(opts.baseUrl)}` : ''})`,

    async reply(request: ChatRequest): Promise<string> {
      // The SDK's ApiError keeps the body but drops the headers, so a thin fetch wrapper, one per
      // call so that concurrent calls cannot mix them up, keeps Retry-After for us. Limit: with a
      // custom fetch the SDK no longer lifts undici's 300 s header timeout, which only matters
      // when LLM_TIMEOUT_MS is longer than that (it then surfaces as 'timeout' all the same).
      let retryAfterHeader: string | null = null;
      const fetchKeepingRetryAfter = async (input: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(input, init);
        if (response.status === 429) retryAfterHeader = response.headers.get('retry-after');
        return response;
      };

      let response: GenerateContentResponse;
      try {
        response = await client.models.generateContent({
          model: opts.model,
          contents: toContents(request),
          config: {
            ...(request.systemPrompt.trim() ? { systemInstruction: request.systemPrompt } : {}),
            maxOutputTokens: opts.maxOutputTokens,
            abortSignal: request.signal,
            httpOptions: { fetch: fetchKeepingRetryAfter },
          },
        });
      } catch (error) {
        throw toLlmError(error, request.signal, opts.apiKey, retryAfterHeader);
      }
      return replyText(response);
    },
  };
}

function toContents(request: ChatRequest): Content[] {
  return [
    ...request.history.map((turn) => ({ role: turn.role, parts: [{ text: turn.content }] })),
    { role: 'user', parts: [{ text: request.message }] },
  ];
}

/**
 * The first candidate's text, without thought parts; an LlmError when there is none. The finish
 * reason only matters when there is no text: a reply cut at MAX_TOKENS is still the model's reply.
 */
function replyText(response: GenerateContentResponse): string {
  const candidate = response.candidates?.[0];
  const text = (candidate?.content?.parts ?? [])
    .filter((part) => typeof part.text === 'string' && !part.thought)
    .map((part) => part.text)
    .join('');
  if (text.trim()) return text;

  const blockReason = response.promptFeedback?.blockReason;
  const finishReason = candidate?.finishReason;
  const why = blockReason
    ? `blocked: ${blockReason}`
    : !candidate
      ? 'no candidates'
      : finishReason === 'MAX_TOKENS'
        ? // Nothing was blocked: the limit ran out first, typically spent on thinking.
          'MAX_TOKENS: the output token limit was reached before any text'
        : finishReason && finishReason !== 'STOP'
          ? `blocked: ${finishReason}`
          : 'empty reply';
  throw new LlmError(PROVIDER, 'failed', `gemini returned no text (${why})`);
}

function toLlmError(error: unknown, signal: AbortSignal, apiKey: string, retryAfterHeader: string | null): LlmError {
  if (error instanceof LlmError) return error;
  if (signal.aborted || isTimeoutError(error)) {
    return new LlmError(PROVIDER, 'timeout', 'gemini did not answer in time', undefined, { cause: error });
  }
  if (error instanceof ApiError) {
    const body = parseErrorBody(error.message);
    const detail = safeDetail(body?.message ?? error.message, apiKey);
    if (error.status === 429) {
      const retryAfter = parseRetryAfter(retryAfterHeader) ?? retryDelayFrom(body);
      return new LlmError(PROVIDER, 'rate_limited', `gemini is rate limited: ${detail}`, retryAfter, { cause: error });
    }
    return new LlmError(PROVIDER, 'failed', `gemini failed: HTTP ${error.status} ${detail}`, undefined, { cause: error });
  }
  return new LlmError(PROVIDER, 'failed', `gemini failed: ${safeDetail(describeNetworkError(error), apiKey)}`, undefined, {
    cause: error,
  });
}

interface GoogleErrorBody {
  message?: string;
  details?: Array<{ '@type'?: string; retryDelay?: unknown }>;
}

/** The SDK puts the JSON error body, `{"error": {...}}`, into ApiError.message. */
function parseErrorBody(message: string): GoogleErrorBody | undefined {
  try {
    const parsed = JSON.parse(message) as { error?: GoogleErrorBody };
    return typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

/** Gemini states the wait as google.rpc.RetryInfo in the error details rather than a header. */
function retryDelayFrom(body: GoogleErrorBody | undefined): number | undefined {
  const info = body?.details?.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'));
  return parseDurationSeconds(info?.retryDelay);
}
