import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/access.ts';
import { withServerTiming } from '../http/server-timing.ts';
import { errorResponse, errorResponses, Uuid } from '../http/schemas.ts';
import { ChatSessionCreateSchema, MessageBodySchema } from './chat-schemas.ts';
import type { ChatService } from './chat-service.ts';

const SessionParams = Type.Object({ session_id: Uuid });

const notFound = errorResponse(404, 'No chat session with this id that belongs to the caller');
const config = { access: 'authenticated' } as const;

export const chatRoutes: FastifyPluginAsyncTypebox<{ chat: ChatService; maxMessageChars: number }> = async (
  app,
  { chat, maxMessageChars },
) => {
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
        summary: 'Get a session with its whole history; audio URLs are built without storage calls',
        params: SessionParams,
        response: {
          200: session('The session with its whole history; the Server-Timing header shows db and audio-urls'),
          ...errorResponses(400),
          ...notFound,
        },
      },
    },
    (req, reply) => withServerTiming(reply, (timing) => chat.get(principalOf(req), req.params.session_id, timing)),
  );

  app.post(
    '/api/chat/:session_id/message',
    {
      // Each message costs an LLM call and speech: it also counts against the message limit.
      config: { access: 'authenticated', messageLimited: true },
      schema: {
        operationId: 'postMessage',
        tags,
        summary: 'Send a message; the reply is saved with the audio URL of its speech',
        params: SessionParams,
        body: MessageBodySchema(maxMessageChars),
        response: {
          200: session('The whole session, ending with the message and its reply (audio_url null if synthesis failed)'),
          ...errorResponses(400, 415),
          ...notFound,
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
    (req, reply) => withServerTiming(reply, (timing) => chat.postMessage(principalOf(req), req.params.session_id, req.body.message, timing)),
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
