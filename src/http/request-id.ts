// The request id: the client's x-request-id when it is a plausible id, a fresh UUID otherwise. The id
// goes into every log line of the request and back out in the x-request-id response header, so a
// client must not be able to make it long (6 KB in every log line) or put anything in it that a log
// viewer or a proxy could read as structure (spaces, quotes, commas of a repeated header, control
// characters).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Long enough for a UUID, a ULID, or a W3C trace id with its span id, with room to spare. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** Letters, digits and `. _ : -`: what UUIDs, ULIDs, hex trace ids and proxies' request ids are made of. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]+$/;

/** Fastify's genReqId: the client's id when it is short and made of safe characters, else a UUID. */
export function requestIdFrom(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && given.length <= MAX_REQUEST_ID_LENGTH && SAFE_REQUEST_ID.test(given)) return given;
  return randomUUID();
}
