import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.ts';
import type { VoiceCatalogue } from '../speech/synthesizer.ts';

const VoiceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  gender: Type.String(),
  language_code: Type.String(),
  language_name: Type.String(),
  engines: Type.Array(Type.String()),
});

export const voiceRoutes: FastifyPluginAsyncTypebox<{ voices: VoiceCatalogue }> = async (app, { voices }) => {
  app.get(
    '/api/voices',
    {
      schema: {
        tags: ['voices'],
        summary: "The voices the active speech engine can speak (Polly's for the configured POLLY_ENGINE)",
        response: { 200: Type.Array(VoiceSchema), ...errorResponses(503) },
      },
    },
    () => voices.list(),
  );
};
