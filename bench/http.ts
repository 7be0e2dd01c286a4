// Single HTTP requests to the API, timed at the client, with the server's phases from Server-Timing.
import { parseServerTiming } from './stats.ts';

export interface TimedResponse<T> {
  status: number;
  /** Wall time at the client, from sending to the last byte of the body (parsing it is not counted). */
  ms: number;
  /** Server-Timing phases in ms. */
  phases: Record<string, number>;
  body: T;
}

export interface ChatMessage {
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}

export interface ChatSession {
  session_id: string;
  voice_id: string;
  history: ChatMessage[];
}

export async function timedRequest<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<TimedResponse<T>> {
  const start = performance.now();
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - start;
  const parsed = (text ? JSON.parse(text) : undefined) as T;
  if (res.status >= 400) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return { status: res.status, ms, phases: parseServerTiming(res.headers.get('server-timing')), body: parsed };
}

/** `headers`: e.g. an Authorization header, for an API that requires a credential (scenario 7). */
export const getSession = (base: string, id: string, headers?: Record<string, string>) =>
  timedRequest<ChatSession>(base, 'GET', `/api/chat/${id}`, undefined, headers);

export const postMessage = (base: string, id: string, message: string) =>
  timedRequest<ChatSession>(base, 'POST', `/api/chat/${id}/message`, { message });

export async function createSession(base: string, personaId?: string): Promise<string> {
  return (await timedRequest<ChatSession>(base, 'POST', '/api/chat', personaId ? { persona_id: personaId } : {})).body.session_id;
}
