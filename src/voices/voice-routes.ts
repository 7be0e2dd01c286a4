import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.ts';
import type { VoiceCatalogue } from '../speech/synthesizer.ts';

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

export const voiceRoutes: FastifyPluginAsyncTypebox<{ voices: VoiceCatalogue }> = async (app, { voices }) => {
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
};
