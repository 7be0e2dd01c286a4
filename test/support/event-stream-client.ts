// Reads a streamed reply the way a client does: fetch() with Accept: text/event-stream, the body read
// as it arrives, and a real SSE parser (eventsource-parser) turning it into events and comments.
import { createParser } from 'eventsource-parser';

export interface StreamedEvent {
  event: string;
  data: unknown;
  /** performance.now() when the event was parsed. */
  at: number;
}

export interface StreamOptions {
  headers?: Record<string, string>;
  /** Called as each event arrives; return 'disconnect' to hang up right after it. */
  onEvent?: (event: StreamedEvent) => void | 'disconnect';
}

export interface StreamResult {
  status: number;
  headers: Headers;
  /** The events, in order; for a non-stream answer, none. */
  events: StreamedEvent[];
  /** Comment lines (": ping" arrives as "ping"). */
  comments: string[];
  /** The parsed JSON body of an answer that was not a stream (an error before the stream started). */
  json?: unknown;
  /** Whether the client hung up on purpose. */
  disconnected: boolean;
}

export async function postStream(url: string, body: unknown, opts: StreamOptions = {}): Promise<StreamResult> {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...opts.headers },
    body: JSON.stringify(body),
    signal: abort.signal,
  });
  const result: StreamResult = { status: res.status, headers: res.headers, events: [], comments: [], disconnected: false };
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    result.json = await res.json();
    return result;
  }
  const parser = createParser({
    onEvent: (message) => {
      const event = { event: message.event ?? 'message', data: JSON.parse(message.data) as unknown, at: performance.now() };
      result.events.push(event);
      if (opts.onEvent?.(event) === 'disconnect') {
        result.disconnected = true;
        abort.abort();
      }
    },
    onComment: (comment) => result.comments.push(comment.trim()),
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (result.disconnected) break;
    }
  } catch (err) {
    if (!result.disconnected) throw err;
  }
  return result;
}

/** The events' data by name, typed loosely for assertions. */
export function eventsNamed<T = Record<string, unknown>>(result: StreamResult, name: string): T[] {
  return result.events.filter((e) => e.event === name).map((e) => e.data as T);
}
