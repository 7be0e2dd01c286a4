// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html) on a Fastify
// reply: `event: <name>` and one `data:` line of JSON per event, and a comment line every pingMs so
// that proxies (nginx, ALBs, CloudFront: 60 s idle by default) keep a quiet stream open.
//
// The stream is a PassThrough handed to reply.send(), so the onSend hooks (request id, CORS, the
// Connection: close of a shutdown) still set their headers. Fastify destroys it when the client hangs
// up; from then on events go nowhere, and the work behind them is not interrupted by that.
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { databaseUnavailable } from '../db/database.ts';
import { errorBody, httpAnswerFor, type ErrorBody } from './error-handler.ts';

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Sends the `error` event for `err`, in the API's error shape. */
  fail(err: unknown): void;
  end(): void;
  /** False once the client has hung up. */
  readonly connected: boolean;
}

/** Does the request ask for an event stream? (`Accept: text/event-stream`, with any parameters, q above 0.) */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type !== 'text/event-stream') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** The `error` event's data: our own errors keep their status and message; anything else is a 500. */
export function streamErrorBody(err: unknown): ErrorBody {
  // A driver error that means the database is out of reach is an outage (503), as in the handler
  // for answers that are not streams; its own message, which quotes the SQL, is never shown.
  const cause = databaseUnavailable(err) ?? err;
  const answer = httpAnswerFor(cause);
  if (answer && cause instanceof Error) return errorBody(answer.statusCode, cause.message);
  return errorBody(500, 'Internal Server Error');
}

export function openEventStream(reply: FastifyReply, pingMs: number): EventStream {
  const out = new PassThrough();
  // A write after the client left would otherwise raise an error nobody listens for.
  out.on('error', () => {});
  reply
    .code(200)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    // nginx buffers responses unless told otherwise, which would hold every event back.
    .header('x-accel-buffering', 'no');
  void reply.send(out);

  const writable = () => !out.destroyed && !out.writableEnded;
  const ping = setInterval(() => writable() && out.write(': ping\n\n'), pingMs);
  const stopPing = () => clearInterval(ping);
  out.once('close', stopPing);

  const stream: EventStream = {
    send(event, data) {
      // JSON.stringify never emits a raw newline, so one data line always holds the whole event.
      if (writable()) out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    fail(err) {
      stream.send('error', streamErrorBody(err));
    },
    end() {
      stopPing();
      if (writable()) out.end();
    },
    get connected() {
      return writable();
    },
  };
  return stream;
}
