// The narrow interface every LLM provider implements. They all throw LlmError (src/errors.ts).
import { LlmError } from '../errors.ts';

export type ChatRole = 'user' | 'model';

export interface ChatTurn {
  role: ChatRole;
  content: string;
}

export interface ChatRequest {
  /** The persona's system prompt; may be empty. */
  systemPrompt: string;
  /** Recent history, oldest first, already cut to LLM_HISTORY_LIMIT. */
  history: ChatTurn[];
  /** The new user message. */
  message: string;
  /** Aborted when LLM_TIMEOUT_MS runs out. */
  signal: AbortSignal;
}

export interface ChatModel {
  /** 'gemini', 'openai' or 'offline': named in errors and logs. */
  readonly provider: string;
  /** A one-line description for the start-up log, e.g. "gemini (gemini-2.5-flash)". */
  readonly description: string;
  reply(request: ChatRequest): Promise<string>;
}

/**
 * Asks `model` for a reply, but gives up after `timeoutMs`. The call is raced against the deadline,
 * so even a provider that ignores its signal cannot hold the request open; the signal is still
 * aborted so that well-behaved providers close their connection. Whatever goes wrong comes out as
 * an LlmError: the deadline as 'timeout', anything that is not already an LlmError as 'failed'.
 */
export async function replyWithin(
  model: ChatModel,
  request: Omit<ChatRequest, 'signal'>,
  timeoutMs: number,
): Promise<string> {
  const controller = new AbortController();
  const deadlineError = new LlmError(model.provider, 'timeout', `${model.provider} did not answer within ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(deadlineError);
      controller.abort(deadlineError);
    }, timeoutMs);
  });
  let reply: string;
  try {
    reply = await Promise.race([model.reply({ ...request, signal: controller.signal }), deadline]);
  } catch (error) {
    // Once the deadline has passed, whatever the provider made of the abort is the deadline's doing.
    if (controller.signal.aborted) throw deadlineError;
    if (error instanceof LlmError) throw error;
    // Only the error's class goes into the message: a foreign message may quote a key or a URL.
    const kind = error instanceof Error ? error.name : typeof error;
    throw new LlmError(model.provider, 'failed', `${model.provider} failed (${kind})`, undefined, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  // PostgreSQL text cannot hold U+0000; a model that emits one must not cost the reply.
  reply = reply.replaceAll('\u0000', '');
  if (!reply.trim()) throw new LlmError(model.provider, 'failed', `${model.provider} returned no text`);
  return reply;
}
