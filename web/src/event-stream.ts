// The streamed reply of POST /api/chat/{id}/message (Accept: text/event-stream), read from a fetch
// Response rather than EventSource, which can only GET and cannot send an Authorization header.
// Events: `text` {delta}, `audio` {index, text, audio, error?}, `done` (the ChatSessionResponse),
// `error` {statusCode, error, message}; `: ping` comments keep proxies from closing an idle stream.
// Errors before the stream starts are ordinary JSON responses, handled by the caller.
import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';

export interface AudioSegment {
  index: number;
  text: string;
  /** Base64 MP3, or null when this segment could not be synthesized (see error). */
  audio: string | null;
  error?: string;
}

export interface StreamHandlers<Done> {
  text(delta: string): void;
  audio(segment: AudioSegment): void;
}

/** An `error` event: the reply failed after the stream had started (the status is in the data). */
export class StreamError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

/**
 * Reads an OK text/event-stream Response to its end: calls the handlers as events arrive and
 * resolves with the `done` event's data. Rejects with StreamError on an `error` event, and with an
 * Error saying the stream ended early when the body ends without `done` (a dropped connection).
 * An abort of `signal` rejects with the signal's reason; the body is cancelled in every case
 * where reading stops before its end.
 */
export async function readReplyStream<Done = unknown>(
  response: Response,
  handlers: StreamHandlers<Done>,
  signal?: AbortSignal,
): Promise<Done> {
  signal?.throwIfAborted();
  if (!response.body) throw new Error('The reply stream has no body.');
  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  // Cancelling makes a pending read() settle, so an abort is noticed even while the server is
  // silent; the fetch is usually made with the same signal, which ends the body as well.
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      let result: ReadableStreamReadResult<EventSourceMessage>;
      try {
        result = await reader.read();
      } catch (cause) {
        signal?.throwIfAborted();
        throw new Error('The reply stream broke off before it was done (the connection dropped).', { cause });
      }
      signal?.throwIfAborted();
      if (result.done) throw new Error('The reply stream ended before it was done (the connection dropped).');
      const message = result.value;
      switch (message.event) {
        case 'text':
          handlers.text(textDelta(json(message)));
          break;
        case 'audio':
          handlers.audio(audioSegment(json(message)));
          break;
        case 'done':
          return json(message) as Done;
        case 'error':
          throw streamError(json(message));
        default:
          // Unknown or unnamed events: a newer server may send more than this page knows.
          break;
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Stops the body when reading ended early (done, error, a handler throwing); a no-op when the
    // stream has already ended.
    reader.cancel().catch(() => {});
  }
}

/** Bytes of a base64 string (an audio event's MP3), e.g. for new Blob([bytes], { type: 'audio/mpeg' }). */
export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function json(message: EventSourceMessage): unknown {
  try {
    return JSON.parse(message.data);
  } catch {
    throw new Error(`The reply stream sent malformed JSON in a "${message.event}" event: ${preview(message.data)}`);
  }
}

function malformed(event: string, data: unknown): Error {
  return new Error(`The reply stream sent a malformed "${event}" event: ${preview(JSON.stringify(data))}`);
}

function preview(data: string): string {
  return data.length > 200 ? `${data.slice(0, 200)}…` : data;
}

function isRecord(data: unknown): data is Record<string, unknown> {
  return typeof data === 'object' && data !== null && !Array.isArray(data);
}

function textDelta(data: unknown): string {
  if (!isRecord(data) || typeof data.delta !== 'string') throw malformed('text', data);
  return data.delta;
}

function audioSegment(data: unknown): AudioSegment {
  if (
    !isRecord(data) ||
    typeof data.index !== 'number' ||
    typeof data.text !== 'string' ||
    (data.audio !== null && typeof data.audio !== 'string') ||
    (data.error !== undefined && typeof data.error !== 'string')
  ) {
    throw malformed('audio', data);
  }
  const segment: AudioSegment = { index: data.index, text: data.text, audio: data.audio };
  if (typeof data.error === 'string') segment.error = data.error;
  return segment;
}

function streamError(data: unknown): Error {
  if (
    !isRecord(data) ||
    typeof data.statusCode !== 'number' ||
    typeof data.error !== 'string' ||
    typeof data.message !== 'string'
  ) {
    return malformed('error', data);
  }
  return new StreamError(data.statusCode, data.error, data.message);
}
