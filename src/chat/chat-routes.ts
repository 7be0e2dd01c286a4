import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { withServerTiming } from '../http/server-timing.ts';
import { errorResponses, NonBlank, Uuid } from '../http/schemas.ts';
import type { ChatService } from './chat-service.ts';

const sessionFields = {
  session_id: Type.String({ format: 'uuid' }),
  persona_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  voice_id: Type.String({ description: "the resolved voice: the persona's, else DEFAULT_POLLY_VOICE_ID" }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
};

export const ChatMessageSchema = Type.Object(
  {
    role: Type.Union([Type.Literal('user'), Type.Literal('model')]),
    content: Type.String(),
    audio_url: Type.Union([Type.String(), Type.Null()], {
      description: 'null for user messages, and for a reply whose synthesis failed in this POST',
    }),
  },
  { $id: 'ChatMessage' },
);

export const ChatSessionSchema = Type.Object(
  { ...sessionFields, history: Type.Array(Type.Ref('ChatMessage')) },
  { $id: 'ChatSessionResponse' },
);

export const ChatSessionSummarySchema = Type.Object(sessionFields, { $id: 'ChatSessionSummary' });

const SessionParams = Type.Object({ session_id: Uuid });

export const chatRoutes: FastifyPluginAsyncTypebox<{ chat: ChatService; maxMessageChars: number }> = async (
  app,
  { chat, maxMessageChars },
) => {
  const tags = ['chat'];
  const session = Type.Ref('ChatSessionResponse');

  app.post(
    '/api/chat',
    {
      schema: {
        tags,
        summary: 'Start a chat session, optionally with a persona',
        body: Type.Optional(
          Type.Object({ persona_id: Type.Optional(Type.Union([Uuid, Type.Null()])) }, { additionalProperties: false }),
        ),
        response: { 201: session, ...errorResponses(400, 415, 422) },
      },
      // The body is optional: a bare POST starts a session without a persona.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => reply.code(201).send(await chat.create(req.body?.persona_id)),
  );

  app.get(
    '/api/chat',
    {
      schema: {
        tags,
        summary: 'List chat sessions, newest first, without their history',
        response: { 200: Type.Array(Type.Ref('ChatSessionSummary')) },
      },
    },
    () => chat.list(),
  );

  app.get(
    '/api/chat/:session_id',
    {
      schema: {
        tags,
        summary: 'Get a session with its whole history; audio URLs are built without storage calls',
        params: SessionParams,
        response: { 200: session, ...errorResponses(400, 404) },
      },
    },
    (req, reply) => withServerTiming(reply, (timing) => chat.get(req.params.session_id, timing)),
  );

  app.post(
    '/api/chat/:session_id/message',
    {
      schema: {
        tags,
        summary: 'Send a message; the reply is saved with the audio URL of its speech',
        params: SessionParams,
        body: Type.Object(
          { message: NonBlank({ maxLength: maxMessageChars, description: `1-${maxMessageChars} characters, not blank` }) },
          { additionalProperties: false },
        ),
        response: { 200: session, ...errorResponses(400, 404, 429, 502, 504) },
      },
    },
    (req, reply) => withServerTiming(reply, (timing) => chat.postMessage(req.params.session_id, req.body.message, timing)),
  );

  app.delete(
    '/api/chat/:session_id',
    {
      schema: {
        tags,
        summary: 'Delete a session and its messages',
        params: SessionParams,
        response: { 204: Type.Null(), ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      await chat.delete(req.params.session_id);
      return reply.code(204).send(null);
    },
  );
};
