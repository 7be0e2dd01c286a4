// The OpenAPI document's top level, for @fastify/swagger: what the routes' schemas cannot say.
// `npm run openapi` prints the document; `npm run openapi:lint` checks it with Redocly.
import { createRequire } from 'node:module';
import type { SwaggerOptions } from '@fastify/swagger';

// Read at run time rather than imported, so that the compiled build finds the same file: src/http/
// and dist/http/ both sit two levels below package.json, which is outside the compiled root.
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export const swaggerOptions: SwaggerOptions = {
  openapi: {
    info: {
      title: 'Chat API with voice',
      description: 'Personas, chat sessions and AI replies that each come with an MP3 of their speech.',
      version: pkg.version,
    },
    // Relative: the API itself, wherever it is deployed, is the origin that serves this document.
    servers: [{ url: '/', description: 'The origin that serves this document' }],
    // Every operation needs a bearer credential unless it says `security: []` (see http/access.ts).
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'ADMIN_API_KEY, an API key (cbx_...) from POST /api/keys, or a JWT from the identity provider at AUTH_JWKS_URL. ' +
            'Not needed when the API runs with AUTH_MODE=none (the default on a loopback HOST).',
        },
      },
    },
    tags: [
      { name: 'keys', description: 'API keys, made and deleted by admins' },
      { name: 'personas', description: 'Characters: a system prompt and a voice' },
      { name: 'chat', description: 'Sessions and messages' },
      { name: 'voices', description: 'The voices the speech engine can speak' },
      { name: 'audio', description: 'Locally stored reply audio' },
      { name: 'health', description: 'Liveness for load balancers and orchestrators' },
    ],
  },
  // Name shared components after their $id rather than def-0, def-1.
  refResolver: { buildLocalReference: (json, _base, _fragment, i) => (json.$id as string) ?? `def-${i}` },
};
