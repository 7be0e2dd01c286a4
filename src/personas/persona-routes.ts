import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/access.ts';
import { errorResponse, errorResponses, IdParams } from '../http/schemas.ts';
import { PersonaInputSchema, PersonaPatchSchema } from './persona-schemas.ts';
import type { PersonaService } from './persona-service.ts';

const notFound = errorResponse(404, 'No persona with this id that the caller can see');
const forbidden = errorResponse(403, 'The persona is shared, and only an admin may change it');
const config = { access: 'authenticated' } as const;

export const personaRoutes: FastifyPluginAsyncTypebox<{ personas: PersonaService }> = async (app, { personas }) => {
  const tags = ['personas'];
  const persona = (description: string) => Type.Ref('Persona', { description });

  app.post(
    '/api/personas',
    {
      config,
      schema: {
        operationId: 'createPersona',
        tags,
        summary: "Create a persona: shared when an admin makes it, else private to the caller's owner",
        body: PersonaInputSchema,
        response: { 201: persona('The new persona'), ...errorResponses(400, 415, 422, 503) },
      },
    },
    async (req, reply) => reply.code(201).send(await personas.create(principalOf(req), req.body)),
  );

  app.get(
    '/api/personas',
    {
      config,
      schema: {
        operationId: 'listPersonas',
        tags,
        summary: "List the shared personas and the caller's own, newest first",
        response: { 200: Type.Array(Type.Ref('Persona'), { description: "The shared personas and the caller's own, newest first" }) },
      },
    },
    (req) => personas.list(principalOf(req)),
  );

  app.get(
    '/api/personas/:id',
    {
      config,
      schema: {
        operationId: 'getPersona',
        tags,
        summary: 'Get a persona',
        params: IdParams,
        response: { 200: persona('The persona'), ...errorResponses(400), ...notFound },
      },
    },
    (req) => personas.get(principalOf(req), req.params.id),
  );

  app.patch(
    '/api/personas/:id',
    {
      config,
      schema: {
        operationId: 'updatePersona',
        tags,
        summary: 'Update a persona; voice_id null returns it to the default voice',
        params: IdParams,
        body: PersonaPatchSchema,
        response: {
          200: persona('The persona as updated'),
          ...errorResponses(400),
          ...forbidden,
          ...notFound,
          ...errorResponses(415, 422, 503),
        },
      },
    },
    (req) => personas.update(principalOf(req), req.params.id, req.body),
  );

  app.delete(
    '/api/personas/:id',
    {
      config,
      schema: {
        operationId: 'deletePersona',
        tags,
        summary: 'Delete a persona; its sessions fall back to the default voice',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400), ...forbidden, ...notFound },
      },
    },
    async (req, reply) => {
      await personas.delete(principalOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );
};
