// The page's API client: openapi-fetch typed by schema.ts, which openapi-typescript generates from
// the API's own OpenAPI document (npm run openapi:types), as a frontend team would do.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

type Schemas = components['schemas'];
export type Persona = Schemas['Persona'];
export type ChatMessage = Schemas['ChatMessage'];
export type ChatSession = Schemas['ChatSessionResponse'];
export type ChatSummary = Schemas['ChatSessionSummary'];
export type Voice = paths['/api/voices']['get']['responses'][200]['content']['application/json'][number];

/** An answer that is not a success, in the API's error shape, or the network failing (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  static from(status: number, body: unknown): ApiError {
    const message =
      typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : `The API answered ${status}.`;
    return new ApiError(status, message);
  }
}

const KEY_ITEM = 'chatbox.apiKey';

/** The API key the user gave after a 401, kept in this browser only. */
export const storedKey = {
  get: (): string | null => localStorage.getItem(KEY_ITEM),
  set: (key: string) => localStorage.setItem(KEY_ITEM, key),
  clear: () => localStorage.removeItem(KEY_ITEM),
};

const authorization: Middleware = {
  onRequest({ request }) {
    const key = storedKey.get();
    if (key) request.headers.set('authorization', `Bearer ${key}`);
    return request;
  },
};

export const api = createClient<paths, 'application/json'>({ baseUrl: location.origin });
api.use(authorization);

/** The data of a success, else an ApiError; a network failure becomes status 0. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await request;
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The API cannot be reached. Check your connection and try again.');
  }
  if (!answer.response.ok) throw ApiError.from(answer.response.status, answer.error);
  return answer.data as T;
}
