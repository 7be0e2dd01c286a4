import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponse, errorResponses, IdParams } from '../http/schemas.ts';
import { PersonaInputSchema, PersonaPatchSchema } from './persona-schemas.ts';
import type { PersonaService } from './persona-service.ts';

const notFound = errorResponse(404, 'No persona with this id');

export const personaRoutes: FastifyPluginAsyncTypebox<{ personas: PersonaService }> = async (app, { personas }) => {
  const tags = ['personas'];
  const persona = (description: string) => Type.Ref('Persona', { description });

  app.post(
    '/api/personas',
    {
      schema: {
        operationId: 'createPersona',
        tags,
        summary: 'Create a persona',
        body: PersonaInputSchema,
        response: { 201: persona('The new persona'), ...errorResponses(400, 415, 422, 503) },
      },
    },
    async (req, reply) => reply.code(201).send(await personas.create(req.body)),
  );

  app.get(
    '/api/personas',
    {
      schema: {
        operationId: 'listPersonas',
        tags,
        summary: 'List personas, newest first',
        response: { 200: Type.Array(Type.Ref('Persona'), { description: 'Every persona, newest first' }) },
      },
    },
    () => personas.list(),
  );

  app.get(
    '/api/personas/:id',
    {
      schema: {
        operationId: 'getPersona',
        tags,
        summary: 'Get a persona',
        params: IdParams,
        response: { 200: persona('The persona'), ...errorResponses(400), ...notFound },
      },
    },
    (req) => personas.get(req.params.id),
  );

  app.patch(
    '/api/personas/:id',
    {
      schema: {
        operationId: 'updatePersona',
        tags,
        summary: 'Update a persona; voice_id null returns it to the default voice',
        params: IdParams,
        body: PersonaPatchSchema,
        response: { 200: persona('The persona as updated'), ...errorResponses(400, 415), ...notFound, ...errorResponses(422, 503) },
      },
    },
    (req) => personas.update(req.params.id, req.body),
  );

  app.delete(
    '/api/personas/:id',
    {
      schema: {
        operationId: 'deletePersona',
        tags,
        summary: 'Delete a persona; its sessions fall back to the default voice',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400), ...notFound },
      },
    },
    async (req, reply) => {
      await personas.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );
};
