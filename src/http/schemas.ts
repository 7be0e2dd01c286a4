// Schemas shared by every route: the error body, its documented answers, and id params.
// Route-specific schemas live beside their services (chat-schemas.ts, persona-schemas.ts). The same
// schemas validate requests, serialize responses, type the services and build the OpenAPI doc.
// TypeBox only, with no Fastify import, so that chat-schemas.ts and persona-schemas.ts (which type
// the services) can build on it without pulling HTTP into the services.
import { Type, type TRef, type TSchema } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  {
    $id: 'Error',
    description: "Fastify's error shape; message says what was wrong",
    examples: [{ statusCode: 400, error: 'Bad Request', message: 'body/message must not be empty or whitespace only' }],
  },
);

/**
 * What each error status means in this API, as the OpenAPI response description. A route passes its
 * own wording (errorResponse) where the generic one would be vague, e.g. which thing was not found.
 */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid: message names the parameter or field and what is wrong with it',
  404: 'Not found',
  415: 'The body is not JSON: send Content-Type: application/json',
  422: 'The request is well-formed but names something that cannot be used, such as a voice the speech engine cannot speak',
  502: 'The LLM provider failed (message names it); nothing was stored',
  503: 'The speech engine could not be asked (it did not list its voices); retry later',
  504: 'The LLM provider did not answer within LLM_TIMEOUT_MS; nothing was stored',
};

export interface ErrorResponseOptions {
  /** Response headers for the OpenAPI document, by lower-case name; each a schema with a description. */
  headers?: Record<string, TSchema>;
}

/**
 * One documented error answer: the shared Error body, and a description of when it happens that
 * @fastify/swagger makes the response's description (the body stays a plain $ref to Error).
 */
export const errorResponse = (
  code: number,
  description?: string,
  opts: ErrorResponseOptions = {},
): Record<number, TRef<'Error'>> => ({
  [code]: Type.Ref('Error', {
    description: description ?? ERROR_DESCRIPTIONS[code] ?? 'An error in the shape of Error',
    ...(opts.headers ? { headers: opts.headers } : {}),
  }),
});

/** The documented error answers for these status codes, each with its usual description. */
export const errorResponses = (...codes: number[]): Record<number, TRef<'Error'>> =>
  Object.assign({}, ...codes.map((code) => errorResponse(code)));

export const Uuid = Type.String({ format: 'uuid', description: 'a UUID' });

/** The patterns below, which validation.ts puts in words. */
export const NON_BLANK = '\\S';
export const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f]+$';
export const PRINTABLE_ASCII = '^[\\x20-\\x7e]+$';

/** A string that must contain something other than whitespace. */
export const NonBlank = (opts: { maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: NON_BLANK, ...opts });

/** A non-empty string without control characters (a line break, say): an identifier that reaches logs. */
export const Printable = (opts: { maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: NO_CONTROL_CHARACTERS, ...opts });

export const IdParams = Type.Object({ id: Uuid });
