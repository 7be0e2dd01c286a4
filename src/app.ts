// Builds the Fastify application from its dependencies, so tests build the same app and call
// inject(). Listening, signals and the process belong to main.ts.
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { LoggerOptions } from 'pino';
import { Type } from 'typebox';
import { apiKeyRoutes } from './access/api-key-routes.ts';
import { ApiKeySchema, NewApiKeySchema } from './access/api-key-schemas.ts';
import type { ApiKeyService } from './access/api-key-service.ts';
import { chatRoutes } from './chat/chat-routes.ts';
import { ChatMessageSchema, ChatSessionResponseSchema, ChatSessionSummarySchema } from './chat/chat-schemas.ts';
import type { ChatService } from './chat/chat-service.ts';
import type { DatabaseHandle } from './db/database.ts';
import { DatabaseUnavailableError } from './errors.ts';
import { access, type AccessOptions } from './http/access.ts';
import { allowedMethods } from './http/allowed-methods.ts';
import { errorHandler } from './http/error-handler.ts';
import { jsonBody } from './http/json-body.ts';
import { UNMATCHED_ROUTE, type Metrics } from './metrics/metrics.ts';
import { swaggerOptions } from './http/openapi.ts';
import { answerClientError, answerFrameworkError } from './http/protocol-errors.ts';
import { requestIdFrom } from './http/request-id.ts';
import { buildValidator, formatValidationErrors } from './http/validation.ts';
import { ErrorSchema } from './http/schemas.ts';
import { pageRoutes, type PageOptions } from './page/page-routes.ts';
import { personaRoutes } from './personas/persona-routes.ts';
import { PersonaSchema } from './personas/persona-schemas.ts';
import type { PersonaService } from './personas/persona-service.ts';
import type { VoiceCatalogue } from './speech/synthesizer.ts';
import type { VoicePreview } from './voices/voice-preview.ts';
import { voiceRoutes } from './voices/voice-routes.ts';
import { audioFileRoutes } from './storage/audio-file-routes.ts';
import type { FileAudioStore } from './storage/file-audio-store.ts';

export interface AppDeps {
  /** Who may call what, and the rate limits (see http/access.ts). */
  access: AccessOptions;
  apiKeys: ApiKeyService;
  personas: PersonaService;
  chat: ChatService;
  voices: VoiceCatalogue;
  /** GET /api/voices/{voice_id}/preview: a voice saying a sample sentence, made once per voice. */
  voicePreview: VoicePreview;
  /** Set when audio lives on this machine: the API serves it under /audio. */
  audioFiles: FileAudioStore | undefined;
  maxMessageChars: number;
  /** STREAM_PING_MS: the comment line that keeps a streamed reply open through proxies. */
  streamPingMs: number;
  /** The chat page at / (web/, built into dist/web). */
  page: PageOptions;
  /** Prometheus metrics, served at GET /metrics (admins only); the no-op one serves nothing. */
  metrics: Metrics;
  /** GET /readyz asks it whether the database answers. */
  database: Pick<DatabaseHandle, 'ping'>;
  /** Origins allowed by CORS: undefined for none, ['*'] for any. */
  corsOrigins?: string[] | undefined;
  /** Runs when the app closes, after in-flight requests finished (closes the database). */
  onClose?: () => Promise<void>;
}

// Never log credentials. Fastify's request serializer logs no headers, so these paths matter only
// if a log line ever carries a request's headers; they are here so that it stays safe then too.
const REDACT = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'];

export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACT, censor: '[redacted]' } };
}

/**
 * How long GET /readyz waits for the database's `select 1`. A healthy PostgreSQL answers in
 * milliseconds, so 2 s trips only on a sick one, and stays under the usual probe timeouts (an AWS
 * ALB's health check waits 5 s by default; a Kubernetes probe should be given timeoutSeconds: 3),
 * so that the probe gets a 503 with its reason rather than a timeout.
 */
const READINESS_TIMEOUT_MS = 2_000;

export async function buildApp(deps: AppDeps, opts: { logger?: FastifyBaseLogger } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // The client's x-request-id only when it is short and safe to log (see request-id.ts).
    requestIdHeader: false,
    genReqId: requestIdFrom,
    // Requests refused by Node's parser or Fastify's router answer in the error shape too.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // A message of MAX_MESSAGE_CHARS characters can take 4 bytes each in UTF-8, plus JSON escaping.
    bodyLimit: Math.max(1024 * 1024, deps.maxMessageChars * 6 + 1024),
    ajv: {
      customOptions: {
        // A number is not a message: reject wrong types instead of coercing them to strings.
        coerceTypes: false,
        // Reject unknown fields (a typo such as voiceId) instead of silently dropping them.
        removeAdditional: false,
        allErrors: false,
      },
    },
    // These options, plus coercion for query strings only (?limit=50 arrives as a string).
    schemaController: { compilersFactory: { buildValidator } },
    schemaErrorFormatter: formatValidationErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // First, so that it sees every route (CORS's OPTIONS * included) for 405's Allow header.
  await app.register(allowedMethods);
  // The API speaks JSON only; a text/plain body gets a 415 rather than "body must be object".
  app.removeContentTypeParser('text/plain');
  await app.register(jsonBody);
  if (deps.corsOrigins) {
    // Browsers on another origin (a frontend's dev server, say) may call the API and read its
    // Server-Timing and request id. Credentials are never allowed: the API has no cookies.
    await app.register(cors, {
      origin: deps.corsOrigins.includes('*') ? '*' : deps.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      exposedHeaders: [
        'server-timing',
        'x-request-id',
        'retry-after',
        'www-authenticate',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
        'idempotent-replayed',
      ],
      maxAge: 600,
    });
  }

  // A request already in flight when close() starts keeps its keep-alive socket open after its
  // response, and server.close() would wait for the client to hang up (up to keepAliveTimeout).
  // Asking the client to close lets a graceful shutdown end as soon as the last response is sent.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (closing) reply.header('connection', 'close');
  });
  const metrics = deps.metrics;
  if (metrics.enabled) {
    // The route's pattern, never the URL, so that ids do not make a series each.
    app.addHook('onResponse', (req, reply, done) => {
      metrics.httpRequest(req.method, req.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  await app.register(errorHandler);
  // Before swagger and every route: its onRoute hook checks each route's rule and documents it.
  await app.register(access, deps.access);
  for (const schema of [
    ErrorSchema,
    PersonaSchema,
    ChatMessageSchema,
    ChatSessionResponseSchema,
    ChatSessionSummarySchema,
    ApiKeySchema,
    NewApiKeySchema,
  ]) {
    app.addSchema(schema);
  }

  await app.register(swagger, swaggerOptions);
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The API is up' }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  // Readiness, for load balancers and orchestrators: may this instance get traffic? Every route but
  // /healthz, /docs and the page needs the database, so it asks the database. The check is bounded
  // (READINESS_TIMEOUT_MS): a hung database must make /readyz answer 503, not hang the probe, and a
  // probe that times out says nothing about why.
  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary: 'Readiness: the database answers',
        response: {
          200: Type.Object({ status: Type.Literal('ready') }, { description: 'The database answered: the API can serve' }),
          503: Type.Object(
            { status: Type.Literal('unready'), reason: Type.String({ description: 'Why, e.g. database unavailable: connection refused (ECONNREFUSED)' }) },
            { description: 'The database did not answer: requests that need it answer 503 until it is back' },
          ),
        },
      },
    },
    async (_req, reply) => {
      try {
        await deps.database.ping(READINESS_TIMEOUT_MS);
        return { status: 'ready' as const };
      } catch (err) {
        const reason = err instanceof DatabaseUnavailableError ? err.reason : 'the check failed';
        return reply.code(503).send({ status: 'unready' as const, reason: `database unavailable: ${reason}` });
      }
    },
  );

  if (metrics.enabled) {
    app.get(
      '/metrics',
      {
        // Counts and timings of every route and of the LLM and speech engine: for operators only.
        config: { access: 'admin' },
        schema: {
          operationId: 'getMetrics',
          tags: ['health'],
          summary: 'Prometheus metrics',
          description: 'The process, HTTP, LLM and speech metrics in the Prometheus text format 0.0.4 (see docs/api.md)',
          response: {
            200: {
              description: 'The metrics, in the Prometheus text format',
              content: { 'text/plain': { schema: Type.String() } },
            },
          },
        },
      },
      async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()),
    );
  }

  await app.register(apiKeyRoutes, { keys: deps.apiKeys });
  await app.register(personaRoutes, { personas: deps.personas });
  await app.register(chatRoutes, {
    chat: deps.chat,
    maxMessageChars: deps.maxMessageChars,
    streamPingMs: deps.streamPingMs,
    metrics,
  });
  await app.register(voiceRoutes, { voices: deps.voices, voicePreview: deps.voicePreview });
  if (deps.audioFiles) await app.register(audioFileRoutes, { store: deps.audioFiles });
  await app.register(pageRoutes, deps.page);

  if (deps.onClose) {
    const close = deps.onClose;
    app.addHook('onClose', async () => close());
  }
  return app;
}
