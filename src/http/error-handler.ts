// One error handler for the whole API: Fastify's error shape {statusCode, error, message}, a message
// that says exactly what was wrong for 4xx, and hidden details for unexpected 5xx.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { databaseUnavailable } from '../db/database.ts';
import {
  BadRequestError,
  ConflictError,
  DatabaseUnavailableError,
  ForbiddenError,
  IdentityProviderError,
  LlmError,
  NotFoundError,
  RateLimitedError,
  SpeechError,
  UnauthorizedError,
  UnprocessableError,
} from '../errors.ts';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export interface HttpAnswer {
  statusCode: number;
  headers?: Record<string, string>;
}

/**
 * The one mapping from the errors of src/errors.ts to HTTP answers; undefined for anything else
 * (Fastify's own errors, which carry their status, and bugs). An LLM failure becomes what a client
 * can act on: wait (429), retry later (504), or not (502).
 */
export function httpAnswerFor(err: unknown): HttpAnswer | undefined {
  if (err instanceof BadRequestError) return { statusCode: 400 };
  if (err instanceof NotFoundError) return { statusCode: 404 };
  if (err instanceof UnprocessableError) return { statusCode: 422 };
  if (err instanceof SpeechError || err instanceof IdentityProviderError || err instanceof DatabaseUnavailableError) {
    return { statusCode: 503 };
  }
  if (err instanceof UnauthorizedError) {
    // RFC 6750: a refused token gets error="invalid_token"; a missing credential only the scheme.
    const challenge = err.tokenProblem
      ? `Bearer error="invalid_token", error_description="${err.message.replace(/["\\]/g, '')}"`
      : 'Bearer';
    return { statusCode: 401, headers: { 'www-authenticate': challenge } };
  }
  if (err instanceof ForbiddenError) return { statusCode: 403 };
  if (err instanceof ConflictError) return { statusCode: 409, headers: { 'retry-after': String(err.retryAfterSeconds) } };
  if (err instanceof RateLimitedError) {
    return { statusCode: 429, headers: { 'retry-after': String(Math.max(1, Math.ceil(err.retryAfterSeconds))) } };
  }
  if (err instanceof LlmError) {
    switch (err.failure) {
      case 'rate_limited':
        return {
          statusCode: 429,
          headers: err.retryAfterSeconds !== undefined ? { 'retry-after': String(Math.ceil(err.retryAfterSeconds)) } : {},
        };
      case 'timeout':
        return { statusCode: 504 };
      default:
        return { statusCode: 502 };
    }
  }
  return undefined;
}

async function errorHandlerPlugin(app: FastifyInstance) {
  app.setErrorHandler((thrown: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    // Repositories let the driver's errors through. One that means the database cannot be reached
    // (stopped, restarting, out of connections: see db/database.ts) is an outage, not a bug: 503,
    // from any route, the API-key lookup of the access hook included. Its driver error is not shown:
    // drizzle's message quotes the SQL and its parameters.
    const unavailable = databaseUnavailable(thrown);
    const err = unavailable ?? thrown;
    const answer = httpAnswerFor(err);
    if (answer) {
      // Only our own sanitized message is logged: the cause of an upstream error (an SDK's error
      // object) can carry the request, and with it an API key.
      if (unavailable) request.log.warn({ database: { reason: unavailable.reason } }, 'database unavailable');
      else if (answer.statusCode >= 500) request.log.warn({ upstream: { name: err.name, message: err.message } }, 'upstream failure');
      return reply.code(answer.statusCode).headers(answer.headers ?? {}).send(errorBody(answer.statusCode, err.message));
    }

    const fastifyErr = thrown as FastifyError;
    const status = fastifyErr.statusCode && fastifyErr.statusCode >= 400 ? fastifyErr.statusCode : 500;
    if (status < 500) {
      // A body sent to a route that does not exist is parsed before the not-found handler runs; its
      // 415 or bad JSON would hide the answer that matters (404, or 405 with the methods to use).
      if (request.is404) return notFound(request, reply);
      // Validation, bad JSON, wrong content type, body too large: Fastify's message names the problem.
      request.log.info({ err: fastifyErr }, 'client error');
      const message =
        fastifyErr.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `content-type ${request.headers['content-type'] ?? '(none)'} is not supported; send application/json`
          : fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `the request body is larger than the limit of ${request.routeOptions.bodyLimit ?? 'this route'} bytes`
            : fastifyErr.message;
      return reply.code(status).send(errorBody(status, message));
    }
    request.log.error({ err: thrown }, 'unhandled error');
    return reply.code(status).send(errorBody(status, 'Internal Server Error'));
  });

  // Unknown routes also answer in the error shape; rate limiting would go here if ids were guessable.
  app.setNotFoundHandler(notFound);
}

/**
 * 404 for a path no route has; 405 Method Not Allowed with an Allow header (RFC 9110 15.5.6) for a
 * path that exists with other methods, such as PUT /api/personas.
 */
function notFound(request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0];
  const allowed = request.server.allowedMethods(request.url);
  if (allowed.length > 0 && !allowed.includes(request.method)) {
    const list = allowed.join(', ');
    return reply
      .code(405)
      .header('allow', list)
      .send(errorBody(405, `method ${request.method} is not allowed on ${path}; allowed: ${list}`));
  }
  return reply.code(404).send(errorBody(404, `Route ${request.method} ${path} not found`));
}

export const errorHandler = fp(errorHandlerPlugin, { name: 'error-handler', dependencies: ['allowed-methods'] });
