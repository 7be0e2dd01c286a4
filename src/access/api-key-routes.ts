import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponse, errorResponses, IdParams } from '../http/schemas.ts';
import { ApiKeyInputSchema } from './api-key-schemas.ts';
import type { ApiKeyService } from './api-key-service.ts';

// Keys are made and deleted by admins only: a key is a credential, and a user key could otherwise
// make itself an admin key.
const config = { access: 'admin' } as const;

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ keys: ApiKeyService }> = async (app, { keys }) => {
  const tags = ['keys'];

  app.post(
    '/api/keys',
    {
      config,
      schema: {
        operationId: 'createApiKey',
        tags,
        summary: 'Make an API key; the key itself is in this answer only',
        body: ApiKeyInputSchema,
        response: { 201: Type.Ref('NewApiKey', { description: 'The new key, shown once' }), ...errorResponses(400, 415) },
      },
    },
    async (req, reply) => reply.code(201).send(await keys.create(req.body)),
  );

  app.get(
    '/api/keys',
    {
      config,
      schema: {
        operationId: 'listApiKeys',
        tags,
        summary: 'List API keys, newest first, by their prefix (never the key itself)',
        response: { 200: Type.Array(Type.Ref('ApiKey'), { description: 'Every key, newest first' }) },
      },
    },
    () => keys.list(),
  );

  app.delete(
    '/api/keys/:id',
    {
      config,
      schema: {
        operationId: 'deleteApiKey',
        tags,
        summary: 'Delete an API key: it stops working at once here, and within 5 s on every instance',
        params: IdParams,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...errorResponses(400),
          ...errorResponse(404, 'No API key with this id'),
        },
      },
    },
    async (req, reply) => {
      await keys.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );
};
