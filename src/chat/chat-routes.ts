import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../http/access.ts';
import { withServerTiming } from '../http/server-timing.ts';
import { errorResponse, errorResponses, PRINTABLE_ASCII, Uuid } from '../http/schemas.ts';
import { ChatSessionCreateSchema, HistoryPageQuerySchema, MessageBodySchema } from './chat-schemas.ts';
import type { ChatService } from './chat-service.ts';
import { acceptsEventStream, openEventStream, streamErrorBody } from '../http/event-stream.ts';
import { SpeechError } from '../errors.ts';
import type { SegmentAudio } from '../speech/speech-cache.ts';
import type { Metrics } from '../metrics/metrics.ts';

const SessionParams = Type.Object({ session_id: Uuid });

const notFound = errorResponse(404, 'No chat session with this id that belongs to the caller');

// Header names in lower case: see buildValidator in http/validation.ts.
const MessageHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: PRINTABLE_ASCII,
      description:
        '1-255 printable ASCII characters, new for each message (a UUID, say). Sent again with the same session ' +
        'and body within 24 hours, the request appends nothing and gets the first answer back, with the header ' +
        'Idempotent-Replayed: true',
    }),
  ),
});
const config = { access: 'authenticated' } as const;

/** An `audio` event: one complete MP3 in base64, or null and why. */
function audioEvent({ index, text, mp3, error }: SegmentAudio) {
  if (mp3) return { index, text, audio: Buffer.from(mp3.buffer, mp3.byteOffset, mp3.byteLength).toString('base64') };
  // An engine's own message can quote a request; ours (SpeechError) are written to be shown.
  const message = error instanceof SpeechError ? error.message : 'speech synthesis failed';
  return { index, text, audio: null, error: message };
}

/** As the error handler logs a failure of the plain POST. */
function logStreamFailure(req: FastifyRequest, err: unknown): void {
  const body = streamErrorBody(err);
  if (body.statusCode === 500) req.log.error({ err }, 'unhandled error in a streamed reply');
  else if (err instanceof Error && body.statusCode >= 500) req.log.warn({ upstream: { name: err.name, message: err.message } }, 'upstream failure');
}

export const chatRoutes: FastifyPluginAsyncTypebox<{
  chat: ChatService;
  maxMessageChars: number;
  streamPingMs: number;
  metrics: Pick<Metrics, 'speechFirstAudio'>;
}> = async (app, { chat, maxMessageChars, streamPingMs, metrics }) => {
  const tags = ['chat'];
  const session = (description: string) => Type.Ref('ChatSessionResponse', { description });

  app.post(
    '/api/chat',
    {
      config,
      schema: {
        operationId: 'createChatSession',
        tags,
        summary: 'Start a chat session, optionally with a persona',
        body: ChatSessionCreateSchema,
        response: {
          201: session('The new session, with an empty history'),
          ...errorResponses(400, 415),
          ...errorResponse(422, 'persona_id names no persona that the caller can see'),
        },
      },
      // The body is optional: a bare POST starts a session without a persona.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => reply.code(201).send(await chat.create(principalOf(req), req.body?.persona_id)),
  );

  app.get(
    '/api/chat',
    {
      config,
      schema: {
        operationId: 'listChatSessions',
        tags,
        summary: "List the caller's chat sessions, newest first, without their history",
        response: {
          200: Type.Array(Type.Ref('ChatSessionSummary'), { description: "The caller's sessions, newest first, without history" }),
        },
      },
    },
    (req) => chat.list(principalOf(req)),
  );

  app.get(
    '/api/chat/:session_id',
    {
      config,
      schema: {
        operationId: 'getChatSession',
        tags,
        summary: 'Get a session with its whole history, or a page of it; audio URLs are built without storage calls',
        description:
          'Without a query, the whole history. With limit and/or before, the last limit messages whose seq is below ' +
          'before, oldest first; has_more says whether older ones exist. To page backwards, start with ?limit=50, ' +
          'then pass the first seq you hold as before. A page costs what its size costs, not what the history does.',
        params: SessionParams,
        querystring: HistoryPageQuerySchema,
        response: {
          200: session('The session with its history or the page asked for; the Server-Timing header shows db and audio-urls'),
          ...errorResponses(400),
          ...notFound,
        },
      },
    },
    (req, reply) =>
      withServerTiming(reply, (timing) => chat.get(principalOf(req), req.params.session_id, req.query, timing)),
  );

  app.post(
    '/api/chat/:session_id/message',
    {
      // Each message costs an LLM call and speech: it also counts against the message limit.
      config: { access: 'authenticated', messageLimited: true },
      schema: {
        operationId: 'postMessage',
        tags,
        summary: 'Send a message; the reply is saved with the audio URL of its speech, or streamed as it is written and spoken',
        description:
          'With Accept: text/event-stream the reply is streamed as Server-Sent Events, each `event: <name>` with one ' +
          '`data:` line of JSON: `text` {delta} as the LLM writes (the deltas joined are the stored reply); `audio` ' +
          '{index, text, audio} as each segment of its speech is synthesized, in order, audio being one complete MP3 in ' +
          'base64 (or null, with an error, when the segment failed); `done` with the same session the plain POST ' +
          'returns, once the exchange is stored; `error` {statusCode, error, message} when the LLM failed after the ' +
          'stream began, in which case nothing is stored. A `: ping` comment line comes every 15 s. Anything refused ' +
          'before the reply starts is a JSON error with its status, as without streaming. A client that disconnects ' +
          'loses nothing: the reply and its audio are still stored.',
        params: SessionParams,
        body: MessageBodySchema(maxMessageChars),
        headers: MessageHeaders,
        response: {
          200: {
            description:
              'The whole session, ending with the message and its reply (audio_url null if synthesis failed); with ' +
              'Accept: text/event-stream, the events described above',
            content: {
              'application/json': { schema: Type.Ref('ChatSessionResponse') },
              'text/event-stream': { schema: Type.String({ description: 'text, audio, done and error events' }) },
            },
          },
          ...errorResponses(400, 415),
          ...notFound,
          ...errorResponse(409, 'A request with this Idempotency-Key is still in progress; retry after it answers', {
            headers: { 'retry-after': Type.Integer({ minimum: 1, description: 'Seconds to wait before retrying' }) },
          }),
          ...errorResponse(
            422,
            'The Idempotency-Key was used in the last 24 hours for another request (another session or message). Nothing was stored',
          ),
          ...errorResponse(
            429,
            'A rate limit was reached (RATE_LIMIT_PER_MINUTE or MESSAGE_RATE_LIMIT_PER_MINUTE), or the LLM provider is rate limiting the API; message says which. Nothing was stored',
            {
              headers: {
                'retry-after': Type.Integer({
                  minimum: 0,
                  description: 'Seconds to wait before retrying; sent for our limits, and when the LLM provider said how long',
                }),
                'x-ratelimit-limit': Type.Integer({ description: 'Requests allowed per minute by the tighter limit' }),
                'x-ratelimit-remaining': Type.Integer({ description: 'Requests left in this minute' }),
                'x-ratelimit-reset': Type.Integer({ description: 'Seconds until the count resets' }),
              },
            },
          ),
          ...errorResponses(502, 504),
        },
      },
    },
    async (req, reply) => {
      const principal = principalOf(req);
      const args = [principal, req.params.session_id, req.body.message, { idempotencyKey: req.headers['idempotency-key'] }] as const;
      if (!acceptsEventStream(req.headers.accept)) {
        return withServerTiming(reply, async (timing) => {
          const { response, replayed } = await chat.postMessage(...args, timing);
          // Stripe's name for it: the answer comes from the first request with this key.
          if (replayed) reply.header('idempotent-replayed', 'true');
          return response;
        });
      }

      // Streamed. Whatever refuses the message (404, 409, 422) is thrown here, before the stream
      // starts, and answered as JSON by the error handler.
      const prepared = await chat.prepareMessage(...args);
      if (prepared.replayed) reply.header('idempotent-replayed', 'true');
      const stream = openEventStream(reply, streamPingMs);
      if (prepared.replayed) {
        // The reply as one delta, then the session as it stood after it: what the client would have
        // assembled from the first stream, less the audio events (its audio_url is in `done`).
        const last = prepared.response.history.at(-1);
        if (last) stream.send('text', { delta: last.content });
        stream.send('done', prepared.response);
        stream.end();
        return reply;
      }
      // Not awaited by the handler, and not stopped by a client that hangs up: the reply and its audio
      // are stored whether or not anyone is still listening (chat.drain() waits for it at shutdown).
      let heard = false;
      void prepared
        .run({
          text: (delta) => stream.send('text', { delta }),
          audio: (segment) => {
            stream.send('audio', audioEvent(segment));
            // Time to first audio: from the request's arrival to the first event with an MP3 in it
            // (written, whether or not the client is still there). A failed segment has none.
            if (!heard && segment.mp3) {
              heard = true;
              metrics.speechFirstAudio(reply.elapsedTime / 1000);
            }
          },
        })
        .then(
          (response) => stream.send('done', response),
          (err: unknown) => {
            logStreamFailure(req, err);
            stream.fail(err);
          },
        )
        .finally(() => stream.end());
      return reply;
    },
  );

  app.delete(
    '/api/chat/:session_id',
    {
      config,
      schema: {
        operationId: 'deleteChatSession',
        tags,
        summary: 'Delete a session and its messages',
        params: SessionParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400), ...notFound },
      },
    },
    async (req, reply) => {
      await chat.delete(principalOf(req), req.params.session_id);
      return reply.code(204).send(null);
    },
  );
};
