// ChatModel on Google's Gemini API through the official @google/genai SDK (streamGenerateContent).
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

    async *stream(request: ChatRequest): AsyncGenerator<string, void, undefined> {
      // The SDK's ApiError keeps the body but drops the headers, so a thin fetch wrapper, one per
      // call so that concurrent calls cannot mix them up, keeps Retry-After for us. Limit: with a
      // custom fetch the SDK no longer lifts undici's 300 s header and body timeouts, which only
      // matter when LLM_TIMEOUT_MS is longer than that (they then surface as 'timeout' all the same).
      let retryAfterHeader: string | null = null;
      const fetchKeepingRetryAfter = async (input: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(input, init);
        if (response.status === 429) retryAfterHeader = response.headers.get('retry-after');
        return response;
      };
      // The SDK's stream only releases its reader when left early, which leaves the response open
      // until the server ends it; aborting our own signal on the way out drops the connection.
      const leaving = new AbortController();
      const seen = new ReplySeen();
      try {
        const chunks = await client.models.generateContentStream({
          model: opts.model,
          contents: toContents(request),
          config: {
            ...(request.systemPrompt.trim() ? { systemInstruction: request.systemPrompt } : {}),
            maxOutputTokens: opts.maxOutputTokens,
            abortSignal: AbortSignal.any([request.signal, leaving.signal]),
            httpOptions: { fetch: fetchKeepingRetryAfter },
          },
        });
        for await (const chunk of chunks) {
          const delta = seen.add(chunk);
          if (delta) yield delta;
        }
      } catch (error) {
        throw toLlmError(error, request.signal, opts.apiKey, retryAfterHeader, seen.chunks > 0);
      } finally {
        leaving.abort();
      }
      seen.requireText();
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
 * What the chunks of one reply said so far: each chunk's text comes out as a delta, without thought
 * parts, and the rest (finish reason, block reason) is kept for the end. The finish reason only
 * matters when there was no text at all: a reply cut at MAX_TOKENS is still the model's reply, and
 * a stream stopped for SAFETY after some text keeps that text, as generateContent would.
 */
class ReplySeen {
  chunks = 0;
  private text = '';
  private candidateSeen = false;
  private finishReason: string | undefined;
  private blockReason: string | undefined;

  /** Records a chunk; returns its text ('' for a chunk without any). */
  add(chunk: GenerateContentResponse): string {
    this.chunks += 1;
    this.blockReason ??= chunk.promptFeedback?.blockReason;
    const candidate = chunk.candidates?.[0];
    if (!candidate) return '';
    this.candidateSeen = true;
    this.finishReason = candidate.finishReason ?? this.finishReason;
    const delta = (candidate.content?.parts ?? [])
      .filter((part) => typeof part.text === 'string' && !part.thought)
      .map((part) => part.text)
      .join('');
    this.text += delta;
    return delta;
  }

  /** Throws the LlmError that says why, when the stream ended without any text. */
  requireText(): void {
    if (this.text.trim()) return;
    const why = this.blockReason
      ? `blocked: ${this.blockReason}`
      : !this.candidateSeen
        ? 'no candidates'
        : this.finishReason === 'MAX_TOKENS'
          ? // Nothing was blocked: the limit ran out first, typically spent on thinking.
            'MAX_TOKENS: the output token limit was reached before any text'
          : this.finishReason && this.finishReason !== 'STOP'
            ? `blocked: ${this.finishReason}`
            : 'empty reply';
    throw new LlmError(PROVIDER, 'failed', `gemini returned no text (${why})`);
  }
}

/**
 * The same mapping before and during the stream; `midReply` only adds those words to a failure, so
 * that a reply broken off part way can be told from one that never started.
 */
function toLlmError(
  error: unknown,
  signal: AbortSignal,
  apiKey: string,
  retryAfterHeader: string | null,
  midReply: boolean,
): LlmError {
  if (error instanceof LlmError) return error;
  const failed = midReply ? 'gemini failed mid-reply' : 'gemini failed';
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
    return new LlmError(PROVIDER, 'failed', `${failed}: HTTP ${error.status} ${detail}`, undefined, { cause: error });
  }
  return new LlmError(PROVIDER, 'failed', `${failed}: ${safeDetail(describeNetworkError(error), apiKey)}`, undefined, {
    cause: error,
  });
}

interface GoogleErrorBody {
  message?: string;
  details?: Array<{ '@type'?: string; retryDelay?: unknown }>;
}

/**
 * The SDK puts the JSON error body, `{"error": {...}}`, into ApiError.message: as it is for an HTTP
 * error, behind "got status: INTERNAL. " for an error event in the stream.
 */
function parseErrorBody(message: string): GoogleErrorBody | undefined {
  try {
    const parsed = JSON.parse(message.slice(Math.max(0, message.indexOf('{')))) as { error?: GoogleErrorBody };
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
