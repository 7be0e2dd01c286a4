import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses, IdParams, NonBlank } from '../http/schemas.ts';
import type { PersonaService } from './persona-service.ts';

// Limits from the contract. The database types match them (varchar(100) for name and voice_id).
const Name = NonBlank({ maxLength: 100, description: '1-100 characters' });
const SystemPrompt = Type.String({ maxLength: 20_000, description: 'up to 20,000 characters' });
const VoiceId = Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], {
  description: 'a voice id from GET /api/voices, or null for the default voice',
});

export const PersonaSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    system_prompt: Type.String(),
    voice_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Persona' },
);

const CreateBody = Type.Object(
  { name: Name, system_prompt: Type.Optional(SystemPrompt), voice_id: Type.Optional(VoiceId) },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  { name: Type.Optional(Name), system_prompt: Type.Optional(SystemPrompt), voice_id: Type.Optional(VoiceId) },
  { additionalProperties: false, minProperties: 1 },
);

export const personaRoutes: FastifyPluginAsyncTypebox<{ personas: PersonaService }> = async (app, { personas }) => {
  const tags = ['personas'];
  const persona = Type.Ref('Persona');

  app.post(
    '/api/personas',
    { schema: { tags, summary: 'Create a persona', body: CreateBody, response: { 201: persona, ...errorResponses(400, 422, 503) } } },
    async (req, reply) => reply.code(201).send(await personas.create(req.body)),
  );

  app.get(
    '/api/personas',
    { schema: { tags, summary: 'List personas, newest first', response: { 200: Type.Array(persona) } } },
    () => personas.list(),
  );

  app.get(
    '/api/personas/:id',
    { schema: { tags, summary: 'Get a persona', params: IdParams, response: { 200: persona, ...errorResponses(400, 404) } } },
    (req) => personas.get(req.params.id),
  );

  app.patch(
    '/api/personas/:id',
    {
      schema: {
        tags,
        summary: 'Update a persona; voice_id null returns it to the default voice',
        params: IdParams,
        body: PatchBody,
        response: { 200: persona, ...errorResponses(400, 404, 422, 503) },
      },
    },
    (req) => personas.update(req.params.id, req.body),
  );

  app.delete(
    '/api/personas/:id',
    {
      schema: {
        tags,
        summary: 'Delete a persona; its sessions fall back to the default voice',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      await personas.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );
};
