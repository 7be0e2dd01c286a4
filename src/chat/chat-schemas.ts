// The chat shapes, written once: these TypeBox schemas validate the bodies, serialize the answers,
// become the OpenAPI components, and (through Static) are the service's TypeScript types.
// TypeBox only, so that the service can import it without importing the routes.
import { Type, type Static } from 'typebox';
import { NonBlank, Uuid } from '../http/schemas.ts';

const EXAMPLE_TIMES = { created_at: '2025-06-01T12:00:00.000Z', updated_at: '2025-06-01T12:00:05.000Z' };
const EXAMPLE_USER_MESSAGE = { seq: 1, role: 'user', content: 'Where is the treasure?', audio_url: null } as const;
const EXAMPLE_MODEL_MESSAGE = {
  seq: 2,
  role: 'model',
  content: 'Arr, the treasure lies where the tide forgets.',
  // sha256(content + "Matthew"), under the local engine's default key prefix.
  audio_url: '/audio/espeak-v1-mp3/3998acdcf788d5780f2f4c321c1d67d9a4ba999426ba1bdf3952044387a29c7b.mp3',
} as const;
const EXAMPLE_SUMMARY = {
  session_id: '6d1f3b9a-2c4e-4f8a-b0d2-7e9c1a3b5d7f',
  persona_id: '0f8a6c2e-5b1d-4c3a-9e7f-2d4b6a8c0e1f',
  voice_id: 'Matthew',
  ...EXAMPLE_TIMES,
};

const sessionFields = {
  session_id: Type.String({ format: 'uuid' }),
  persona_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  voice_id: Type.String({ description: "the resolved voice: the persona's, else DEFAULT_POLLY_VOICE_ID" }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
};

export const ChatMessageSchema = Type.Object(
  {
    seq: Type.Integer({
      minimum: 1,
      description:
        "The message's 1-based position in its session: 1, 2, 3... without gaps, never reused. Pass the " +
        "first one of a page as `before` to get the page before it",
    }),
    role: Type.Union([Type.Literal('user'), Type.Literal('model')]),
    content: Type.String(),
    audio_url: Type.Union([Type.String(), Type.Null()], {
      description:
        'The URL of the MP3 of a model message, to use as is: relative to the API (/audio/{key}) for local ' +
        'audio, else absolute (S3, CDN, presigned). null for user messages, and for a reply whose synthesis ' +
        'failed in this POST',
    }),
  },
  { $id: 'ChatMessage', examples: [EXAMPLE_MODEL_MESSAGE] },
);

export const ChatSessionSummarySchema = Type.Object(sessionFields, {
  $id: 'ChatSessionSummary',
  description: 'A session without its history',
  examples: [EXAMPLE_SUMMARY],
});

/**
 * A session with its history, or a page of it. The history refers to the ChatMessage component by
 * $id, so the OpenAPI document has one ChatMessage; ChatSessionResponse below resolves that
 * reference for Static.
 */
export const ChatSessionResponseSchema = Type.Object(
  {
    ...sessionFields,
    history: Type.Array(Type.Ref('ChatMessage'), {
      description: 'The whole history, or the page asked for with limit and before; oldest message first',
    }),
    has_more: Type.Boolean({
      description:
        'Whether older messages exist before the first one in history: then ask for the page before its seq. ' +
        'false for an empty history',
    }),
  },
  {
    $id: 'ChatSessionResponse',
    description: 'A session with its history (the whole of it, or a page), oldest message first',
    examples: [{ ...EXAMPLE_SUMMARY, history: [EXAMPLE_USER_MESSAGE, EXAMPLE_MODEL_MESSAGE], has_more: false }],
  },
);

/** The largest page of history one GET returns. */
export const MAX_HISTORY_PAGE = 1000;

/**
 * The query of GET /api/chat/{session_id}. Without it the whole history comes back; a client that
 * pages starts with limit alone and then passes the first seq it holds as before.
 */
export const HistoryPageQuerySchema = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_HISTORY_PAGE,
        description: `Return at most this many messages (1-${MAX_HISTORY_PAGE}): the latest ones before \`before\`. Default: all of them`,
        examples: [50],
      }),
    ),
    before: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'Return only messages whose seq is lower than this (the first seq of the page you hold). ' +
          'Default: up to the newest message',
        examples: [101],
      }),
    ),
  },
  { additionalProperties: false },
);

/** The body of POST /api/chat, which may be absent: a bare POST starts a session without a persona. */
export const ChatSessionCreateSchema = Type.Optional(
  Type.Object(
    { persona_id: Type.Optional(Type.Union([Uuid, Type.Null()])) },
    { additionalProperties: false, examples: [{ persona_id: EXAMPLE_SUMMARY.persona_id }] },
  ),
);

/** The body of POST /api/chat/{session_id}/message; the limit is MAX_MESSAGE_CHARS. */
export const MessageBodySchema = (maxMessageChars: number) =>
  Type.Object(
    { message: NonBlank({ maxLength: maxMessageChars, description: `1-${maxMessageChars} characters, not blank` }) },
    { additionalProperties: false, examples: [{ message: EXAMPLE_USER_MESSAGE.content }] },
  );

/** The components these schemas refer to by $id, for resolving Type.Ref in Static. */
type ChatComponents = { ChatMessage: typeof ChatMessageSchema };

export type ChatMessage = Static<typeof ChatMessageSchema>;
export type ChatSessionSummary = Static<typeof ChatSessionSummarySchema>;
export type ChatSessionResponse = Static<typeof ChatSessionResponseSchema, ChatComponents>;
export type HistoryPageQuery = Static<typeof HistoryPageQuerySchema>;
