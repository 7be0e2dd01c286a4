import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponse, errorResponses } from '../http/schemas.ts';
import type { VoiceCatalogue } from '../speech/synthesizer.ts';
import type { VoicePreview } from './voice-preview.ts';

const VoiceSchema = Type.Object(
  {
    id: Type.String({ description: 'the voice_id to give a persona' }),
    name: Type.String(),
    gender: Type.String(),
    language_code: Type.String(),
    language_name: Type.String(),
    engines: Type.Array(Type.String()),
  },
  {
    examples: [
      { id: 'Matthew', name: 'Matthew', gender: 'Male', language_code: 'en-US', language_name: 'US English', engines: ['neural'] },
    ],
  },
);

/** Letters, digits, '_', '+' and '-': every Polly voice id, and nothing odd for the engine to read. */
const VoiceIdParams = Type.Object({
  voice_id: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[A-Za-z0-9_+-]+$',
    description: 'A voice id from GET /api/voices, e.g. Matthew (case-sensitive)',
  }),
});

export interface VoiceRouteOptions {
  voices: VoiceCatalogue;
  voicePreview: VoicePreview;
}

export const voiceRoutes: FastifyPluginAsyncTypebox<VoiceRouteOptions> = async (app, { voices, voicePreview }) => {
  app.get(
    '/api/voices',
    {
      // Public: a voice list is no one's data, and a page needs it before anyone signs in.
      config: { access: 'public' },
      schema: {
        operationId: 'listVoices',
        tags: ['voices'],
        summary: "The voices the active speech engine can speak (Polly's for the configured POLLY_ENGINE)",
        response: {
          200: Type.Array(VoiceSchema, { description: 'The voices a persona may have' }),
          ...errorResponses(503),
        },
      },
    },
    () => voices.list(),
  );

  app.get(
    '/api/voices/:voice_id/preview',
    {
      // Public: a page plays it with <audio src>, which cannot send Authorization, and it costs at
      // most one synthesis per voice, ever. Counted by the message limit all the same.
      config: { access: 'public', messageLimited: true },
      schema: {
        operationId: 'previewVoice',
        tags: ['voices'],
        summary: 'Hear a voice: a redirect to an MP3 of it saying a short sample sentence in its language',
        description:
          'Answers 302 with Location set to the MP3 (a relative /audio/... URL with local storage, an absolute one with S3). ' +
          'The sentence is in the language of the voice (English for languages without one). The preview is stored under ' +
          'the audio key rule, prefix + sha256(sentence + voice_id) + ".mp3", so each voice is synthesized once, ever. ' +
          'Counted by MESSAGE_RATE_LIMIT_PER_MINUTE.',
        params: VoiceIdParams,
        response: {
          302: Type.Null({
            description: 'The preview exists (or was made now): follow Location',
            headers: {
              location: Type.String({ description: 'The URL of the MP3: relative to the API for local audio, absolute for S3' }),
              'cache-control': Type.String({ description: 'no-store: the redirect is not cached, the MP3 it names is' }),
            },
          }),
          ...errorResponses(400),
          ...errorResponse(404, 'The voice is unknown, or not available on the configured engine; message names it'),
          ...errorResponse(
            503,
            'Speech failed (message names what failed), the preview was not ready within SPEECH_TIMEOUT_MS, ' +
              'or the voice list could not be fetched; retry later',
          ),
        },
      },
    },
    async (req, reply) => {
      const url = await voicePreview.preview(req.params.voice_id);
      // redirect() sends no body at all (send(null) would serialize the 302's null schema as "null").
      return reply.header('cache-control', 'no-store').redirect(url, 302);
    },
  );
};
