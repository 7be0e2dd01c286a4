// One error handler for the whole API: Fastify's error shape {statusCode, error, message}, a message
// that says exactly what was wrong for 4xx, and hidden details for unexpected 5xx.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LlmError } from '../llm/chat-model.ts';
import { SpeechError } from '../speech/synthesizer.ts';
import { HttpError, UpstreamError } from '../errors.ts';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Maps an LLM failure to what a client can act on: wait (429), retry later (504), or not (502). */
export function llmErrorToHttp(err: LlmError): UpstreamError {
  switch (err.failure) {
    case 'rate_limited':
      return new UpstreamError(
        429,
        err.message,
        err.retryAfterSeconds !== undefined ? { 'retry-after': String(Math.ceil(err.retryAfterSeconds)) } : {},
      );
    case 'timeout':
      return new UpstreamError(504, err.message);
    default:
      return new UpstreamError(502, err.message);
  }
}

async function errorHandlerPlugin(app: FastifyInstance) {
  app.setErrorHandler((rawErr: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    let err: Error = rawErr;
    if (err instanceof LlmError) err = llmErrorToHttp(err);
    else if (err instanceof SpeechError) err = new UpstreamError(503, err.message);

    if (err instanceof HttpError) {
      // Only our own sanitized message is logged: the cause of an upstream error (an SDK's error
      // object) can carry the request, and with it an API key.
      if (err.statusCode >= 500) request.log.warn({ upstream: { name: rawErr.name, message: err.message } }, 'upstream failure');
      return reply.code(err.statusCode).headers(err.headers).send(body(err.statusCode, err.message));
    }

    const fastifyErr = err as FastifyError;
    const status = fastifyErr.statusCode && fastifyErr.statusCode >= 400 ? fastifyErr.statusCode : 500;
    if (status < 500) {
      // Validation, bad JSON, wrong content type, body too large: Fastify's message names the problem.
      request.log.info({ err: fastifyErr }, 'client error');
      const message =
        fastifyErr.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `content-type ${request.headers['content-type'] ?? '(none)'} is not supported; send application/json`
          : fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `the request body is larger than the limit of ${request.routeOptions.bodyLimit ?? 'this route'} bytes`
            : fastifyErr.message;
      return reply.code(status).send(body(status, message));
    }
    request.log.error({ err: rawErr }, 'unhandled error');
    return reply.code(status).send(body(status, 'Internal Server Error'));
  });

  // Unknown routes also answer in the error shape; rate limiting would go here if ids were guessable.
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(body(404, `Route ${request.method} ${request.url.split('?')[0]} not found`));
  });
}

export const errorHandler = fp(errorHandlerPlugin, { name: 'error-handler' });
