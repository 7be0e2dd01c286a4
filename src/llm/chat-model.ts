// The narrow interface every LLM provider implements, and the one error type they all throw.

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

export type LlmFailure =
  /** The provider answered 429. */
  | 'rate_limited'
  /** No answer within LLM_TIMEOUT_MS. */
  | 'timeout'
  /** Anything else: 5xx, network, an empty or blocked candidate. */
  | 'failed';

/**
 * What a provider throws. `message` names the provider and what went wrong, and must never
 * contain an API key or a full request URL with credentials in it: it reaches clients.
 */
export class LlmError extends Error {
  constructor(
    readonly provider: string,
    readonly failure: LlmFailure,
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LlmError';
  }
}
