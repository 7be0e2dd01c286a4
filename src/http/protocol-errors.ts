// Requests refused before any route runs still answer in the error shape, with a message that names
// the problem:
// - by Node's HTTP parser (Fastify's clientErrorHandler): malformed framing, a request line or
//   headers over the size limit. There is no request object yet, so the answer is written raw to the
//   socket and the connection is closed: after a framing error nothing later on it can be trusted.
// - by Fastify's router (frameworkErrors): a path parameter longer than maxParamLength, a URL whose
//   percent-encoding is broken.
import { STATUS_CODES, maxHeaderSize as defaultMaxHeaderSize, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './error-handler.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';

/** What Node's HTTP server passes to clientError: llhttp's code and reason, and the bytes it was reading. */
interface ClientError extends Error {
  code?: string;
  reason?: string;
  bytesParsed?: number;
  rawPacket?: unknown;
}

/** What a client can do about each llhttp error; llhttp's own reason says what it found. */
const PARSE_HINTS: Record<string, string> = {
  HPE_INVALID_METHOD:
    'a request starts with a method such as GET; a Content-Length shorter than the body also leads here, as the rest of the body is read as the next request',
  HPE_INVALID_URL: 'spaces and control characters in the URL must be percent-encoded',
  HPE_INVALID_CONSTANT: 'the request line is METHOD URL HTTP/1.1, with spaces in the URL percent-encoded',
  HPE_INVALID_VERSION: 'send HTTP/1.1 and end every line with CRLF',
  HPE_INVALID_HEADER_TOKEN: 'header names cannot contain spaces or separators, and every header line needs a colon',
  HPE_INVALID_HEADER_VALUE: 'header values cannot contain control characters',
  HPE_INVALID_CONTENT_LENGTH: 'send one Content-Length with the exact length of the body in bytes',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'send one Content-Length with the exact length of the body in bytes',
  HPE_INVALID_TRANSFER_ENCODING: 'send either Content-Length or Transfer-Encoding: chunked, never both',
  HPE_INVALID_CHUNK_SIZE: 'each chunk of a chunked body starts with its size in hexadecimal and CRLF',
  HPE_CR_EXPECTED: 'end every line with CRLF',
  HPE_LF_EXPECTED: 'end every line with CRLF',
  HPE_STRICT: 'end every line with CRLF',
};

interface RawAnswer {
  statusCode: number;
  message: string;
}

function answerFor(err: ClientError, maxHeaderSize: number): RawAnswer {
  const code = err.code ?? 'unknown';
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return uriTooLong(err)
        ? {
            statusCode: 414,
            message: `the URL is too long: the request line and headers may take at most ${maxHeaderSize} bytes`,
          }
        : {
            statusCode: 431,
            message: `the request headers are too large: the request line and headers may take at most ${maxHeaderSize} bytes`,
          };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { statusCode: 413, message: 'the chunk extensions of the chunked body are larger than the server accepts' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { statusCode: 408, message: 'the request was not received in full in time' };
  }
  if (code.startsWith('HPE_')) {
    const hint = PARSE_HINTS[code];
    return {
      statusCode: 400,
      message: `the request is not valid HTTP/1.1 (${code}: ${err.reason ?? err.message})${hint ? `; ${hint}` : ''}`,
    };
  }
  return { statusCode: 400, message: `the request could not be read (${code})` };
}

/**
 * Node counts the request line toward the header limit, so a 100 KB URL is a header overflow to it.
 * When the bytes read so far for this request hold no line break yet, the URL is what overflowed.
 * (When the URL arrives in many small packets, the packet that overflowed may start mid-URL; that
 * case stays a 431, whose message says the request line counts.)
 */
function uriTooLong(err: ClientError): boolean {
  if (!Buffer.isBuffer(err.rawPacket)) return false;
  const read = err.rawPacket.subarray(0, err.bytesParsed ?? err.rawPacket.length).toString('latin1');
  // On a keep-alive connection the packet may begin with the end of the previous request.
  const end = read.lastIndexOf('\r\n\r\n');
  const current = end === -1 ? read : read.slice(end + 4);
  return /^[A-Z]+ [^\r\n]*$/.test(current);
}

/**
 * Fastify's clientErrorHandler (`this` is the Fastify instance). Like Fastify's default: nothing to
 * do on a connection reset or a destroyed socket, and nothing is written to a socket that is no
 * longer writable. Like Node's default: nothing is written either when a response on this socket
 * has already started, since the error's bytes would corrupt it.
 */
export function answerClientError(this: FastifyInstance, err: ClientError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;

  // Set when the server was created with a maxHeaderSize option (missing from @types/node).
  const server = this.server as Server & { maxHeaderSize?: number };
  const answer = answerFor(err, server.maxHeaderSize ?? defaultMaxHeaderSize);
  // Malformed requests are mostly scanners and broken proxies: not worth a line at info.
  this.log.debug({ err: { code: err.code, reason: err.reason }, statusCode: answer.statusCode }, 'malformed request');

  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const payload = JSON.stringify(errorBody(answer.statusCode, answer.message));
    socket.write(
      `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(payload)}\r\n` +
        'connection: close\r\n' +
        '\r\n' +
        payload,
    );
  }
  socket.destroy(err);
}

const MAX_PATH_IN_MESSAGE = 60;

/** Fastify's frameworkErrors: the router's own refusals, in the error shape. */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0] ?? request.url;
  const shown = path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}...` : path;
  let statusCode: number;
  let message: string;
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH': {
      // 414, as Fastify answers: the router gives up before it knows which route or parameter was
      // meant, and a segment this long can only be a bad id (ids are 36-character UUIDs).
      const longest = Math.max(...path.split('/').map((segment) => segment.length));
      const limit = request.server.initialConfig.maxParamLength ?? 100;
      statusCode = 414;
      message = `the URL path ${shown} has a segment of ${longest} characters; path parameters are at most ${limit} characters (ids are UUIDs)`;
      break;
    }
    case 'FST_ERR_BAD_URL':
      statusCode = 400;
      message = `the URL path ${shown} is not valid: each % must start a percent-encoded byte such as %20`;
      break;
    default:
      statusCode = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      message = statusCode < 500 ? error.message : 'Internal Server Error';
  }
  if (statusCode < 500) request.log.info({ err: { code: error.code } }, 'client error');
  else request.log.error({ err: error }, 'unhandled error');
  // These replies run no route hooks, so the request id is set here rather than by the onSend hook.
  reply.code(statusCode).header(REQUEST_ID_HEADER, request.id).send(errorBody(statusCode, message));
}
