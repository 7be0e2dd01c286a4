// The one place where implementations are chosen from the config and connected. main.ts, the CLIs,
// the tests and the benchmarks all build the product through here.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { createApiKeyRepository } from './access/api-key-repository.ts';
import { createApiKeyService } from './access/api-key-service.ts';
import { createAuthenticator, type Authenticator } from './access/credentials.ts';
import { createJwtVerifier } from './access/jwt.ts';
import { createChatRepository, type ChatRepository } from './chat/chat-repository.ts';
import { createChatService } from './chat/chat-service.ts';
import type { Config } from './config/env.ts';
import { databaseTargetFor, openDatabase, type DatabaseHandle } from './db/database.ts';
import { createInstanceRegistry } from './db/instances.ts';
import { createIdempotencyKeys } from './chat/idempotency.ts';
import { createAudioJobs, type AudioJobOptions, type AudioJobs } from './speech/audio-jobs.ts';
import type { ChatModel } from './llm/chat-model.ts';
import { createChatModel } from './llm/create-chat-model.ts';
import { instrumentChatModel, instrumentSynthesizer } from './metrics/instrument.ts';
import { createMetrics, noMetrics } from './metrics/metrics.ts';
import { createPersonaRepository } from './personas/persona-repository.ts';
import { createPersonaService } from './personas/persona-service.ts';
import { defaultAudioKeyPrefix } from './storage/audio-key.ts';
import { createEspeakSynthesizer } from './speech/engines/espeak/espeak-synthesizer.ts';
import { createEspeakVoiceCatalogue } from './speech/engines/espeak/espeak-voice-catalogue.ts';
import { createPollyClient } from './speech/engines/polly/polly-client.ts';
import { createPollySynthesizer } from './speech/engines/polly/polly-synthesizer.ts';
import { createPollyVoiceCatalogue } from './speech/engines/polly/polly-voice-catalogue.ts';
import { createSpeechCache, type SpeechCache } from './speech/speech-cache.ts';
import type { Synthesizer, VoiceCatalogue } from './speech/synthesizer.ts';
import type { AudioStore } from './storage/audio-store.ts';
import { createFileAudioStore, type FileAudioStore } from './storage/file-audio-store.ts';
import { createS3AudioStore, createS3Client } from './storage/s3-audio-store.ts';
import { createVoicePreview } from './voices/voice-preview.ts';
import type { AppDeps } from './app.ts';
import type { AccessOptions } from './http/access.ts';

export interface Product {
  app: AppDeps;
  database: DatabaseHandle;
  speech: SpeechCache;
  /** The chat repository: sessions and messages, for the CLIs that walk them. */
  sessions: ChatRepository;
  /** Reply audio still owed, and the worker that pays it (see speech/audio-jobs.ts). */
  audioJobs: AudioJobs;
  /**
   * Starts what runs beside the requests: the instance heartbeat, the reply audio worker and the
   * purge of expired Idempotency-Keys. The API starts it; the CLIs do not. close() stops it.
   */
  startBackgroundWork(): Promise<void>;
  synthesizer: Synthesizer;
  store: AudioStore;
  model: ChatModel;
  keyPrefix: string;
  /** One line per part, for the start-up log. */
  describe(): Record<string, string>;
  close(): Promise<void>;
}

export interface WiringOverrides {
  /** Tests and benchmarks pass an in-memory PGlite or a per-test PostgreSQL database. */
  database?: DatabaseHandle;
  /** The least time between JWKS fetches for unknown kids (30 s); key-rotation tests set 0. */
  jwksRefetchCooldownMs?: number;
  /** The reply audio worker's timings (retry delays, polling); drills shorten them. */
  audioJobs?: AudioJobOptions;
  /** The built page (default PAGE_DIR); the browser tests build theirs into a folder of their own. */
  pageDir?: string;
  /**
   * false: no instrumentation at all (no decorators, no process metrics, no GET /metrics), for the
   * benchmark that measures what it costs. Default true; not a setting of the deployed API.
   */
  metrics?: boolean;
}

/** Where `npm run build:web` (run by npm ci) puts the page that GET / serves. */
export const PAGE_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url));

/**
 * The origin of the store's audio URLs when it is not the API's own (S3, a CDN), for the page's
 * media-src. The URL is built locally, with no storage call, from a key of the right shape.
 */
async function audioOrigins(store: AudioStore, keyPrefix: string): Promise<string[]> {
  const url = await store.url(`${keyPrefix}${'0'.repeat(64)}.mp3`);
  return /^https?:\/\//i.test(url) ? [new URL(url).origin] : [];
}

/** How often expired Idempotency-Keys are deleted. */
const IDEMPOTENCY_PURGE_MS = 10 * 60_000;

export async function wireProduct(config: Config, log: FastifyBaseLogger, overrides: WiringOverrides = {}): Promise<Product> {
  const database = overrides.database ?? openDatabase(databaseTargetFor(config));
  try {
    await database.migrate();
  } catch (err) {
    await database.close();
    throw err;
  }

  // Metrics: one registry per product; the LLM and the engine are wrapped, the rest report to it.
  const metrics = overrides.metrics === false ? noMetrics : createMetrics();
  const model = metrics.enabled ? instrumentChatModel(createChatModel(config.llm), metrics) : createChatModel(config.llm);

  // What close() releases besides the database: SDK clients' sockets, eSpeak's worker threads.
  const releases: Array<() => void | Promise<void>> = [];

  let synthesizer: Synthesizer;
  let voices: VoiceCatalogue;
  if (config.speech.engine === 'polly') {
    const polly = createPollyClient({ region: config.aws.region, endpoint: config.speech.endpoint, credentials: config.aws.credentials });
    releases.push(() => polly.destroy());
    synthesizer = createPollySynthesizer({ client: polly, engine: config.speech.pollyEngine });
    voices = createPollyVoiceCatalogue({ client: polly, engine: config.speech.pollyEngine });
  } else {
    const espeak = createEspeakSynthesizer();
    releases.push(() => espeak.close());
    synthesizer = espeak;
    voices = createEspeakVoiceCatalogue();
  }
  if (metrics.enabled) synthesizer = instrumentSynthesizer(synthesizer, metrics);

  let store: AudioStore;
  let audioFiles: FileAudioStore | undefined;
  const storage = config.storage;
  if (storage.kind === 's3') {
    const s3 = createS3Client({
      region: config.aws.region,
      endpoint: storage.endpoint,
      forcePathStyle: storage.forcePathStyle,
      credentials: config.aws.credentials,
    });
    releases.push(() => s3.destroy());
    store = createS3AudioStore({
      client: s3,
      bucket: storage.bucket,
      region: config.aws.region,
      endpoint: storage.endpoint,
      forcePathStyle: storage.forcePathStyle,
      publicBaseUrl: storage.publicBaseUrl,
      urlMode: storage.urlMode,
      urlTtlSeconds: storage.urlTtlSeconds,
    });
  } else {
    audioFiles = createFileAudioStore({ dir: path.join(config.dataDir, 'audio'), publicBaseUrl: storage.publicBaseUrl });
    store = audioFiles;
  }

  const keyPrefix = config.audioKeyPrefix ?? defaultAudioKeyPrefix(synthesizer.id);
  // One speech cache per process, and with it the one fair scheduler in front of the synthesizer.
  const speech = createSpeechCache({ synthesizer, store, keyPrefix, maxSpeechChars: config.speechMaxChars, metrics });

  // Access: who the caller is (required mode), and the rate limits' store.
  const apiKeyRepository = createApiKeyRepository(database.db);
  const auth = config.auth;
  let authenticator: Authenticator | undefined;
  if (auth.mode === 'required') {
    authenticator = createAuthenticator({
      adminApiKey: auth.adminApiKey,
      apiKeys: apiKeyRepository,
      jwt: auth.jwt && createJwtVerifier({ ...auth.jwt, refetchCooldownMs: overrides.jwksRefetchCooldownMs }),
    });
  }
  let redis: Redis | undefined;
  const limited = config.rateLimits.perMinute !== undefined || config.rateLimits.messagesPerMinute !== undefined;
  if (config.rateLimits.redisUrl && limited) {
    // Short timeouts and one retry: a request waits at most about half a second on a Redis that is
    // down, and then goes through uncounted (the limiter's skipOnError) rather than failing.
    redis = new Redis(config.rateLimits.redisUrl, { connectTimeout: 2_000, commandTimeout: 500, maxRetriesPerRequest: 1 });
    // Without a listener ioredis would print every reconnect failure; one line per outage is enough.
    let down = false;
    redis.on('error', (err: Error) => {
      if (!down) log.warn({ redis: { message: err.message } }, 'Redis unreachable: rate limits are not counted until it is back');
      down = true;
    });
    redis.on('ready', () => {
      if (down) log.info('Redis reachable again: rate limits are counted');
      down = false;
    });
    const client = redis;
    releases.push(() => client.quit().then(() => undefined, () => client.disconnect()));
  }
  const access: AccessOptions = {
    ...(authenticator ? { mode: 'required' as const, authenticator } : { mode: 'none' as const }),
    rateLimits: { perMinute: config.rateLimits.perMinute, messagesPerMinute: config.rateLimits.messagesPerMinute, redis },
  };
  const apiKeys = createApiKeyService({ keys: apiKeyRepository, authenticator: authenticator ?? { forgetKey: () => {} } });

  const personaRepository = createPersonaRepository(database.db);
  const personas = createPersonaService({ personas: personaRepository, voices });
  const sessions = createChatRepository(database.db, { defaultVoiceId: config.defaultVoiceId });
  const instance = createInstanceRegistry(database.db, {
    singleProcess: database.singleProcess,
    onError: (err) => log.warn({ err }, 'could not write this instance\'s heartbeat; retrying'),
  });
  const audioJobs = createAudioJobs({ db: database.db, speech, instanceId: instance.id, log, options: overrides.audioJobs });
  const idempotency = createIdempotencyKeys(database.db, instance.id);
  const chat = createChatService({
    sessions,
    personas: personaRepository,
    model,
    speech,
    log,
    llmTimeoutMs: config.llmTimeoutMs,
    llmHistoryLimit: config.llmHistoryLimit,
    speechTimeoutMs: config.speechTimeoutMs,
    audioJobs,
    idempotency,
  });

  let background: { purge: NodeJS.Timeout } | undefined;
  const startBackgroundWork = async () => {
    if (background) return;
    await instance.start();
    audioJobs.start();
    const purge = () => idempotency.purgeExpired().catch((err: unknown) => log.warn({ err }, 'could not purge expired Idempotency-Keys'));
    void purge();
    background = { purge: setInterval(purge, IDEMPOTENCY_PURGE_MS).unref() };
  };
  const stopBackgroundWork = async () => {
    if (!background) return;
    clearInterval(background.purge);
    background = undefined;
    // Jobs first: they finish or are handed back while the engine and the database are still open.
    await audioJobs.stop();
    await instance.stop().catch((err: unknown) => log.warn({ err }, 'could not remove this instance\'s heartbeat'));
  };

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      // Replies first: the ones still being written append their exchange and voice it.
      await chat.drain(config.shutdownTimeoutMs);
      await stopBackgroundWork();
      for (const release of releases) await release();
    } finally {
      await database.close();
    }
  };

  return {
    app: {
      access,
      apiKeys,
      personas,
      chat,
      voices,
      voicePreview: createVoicePreview({ voices, speech, timeoutMs: config.speechTimeoutMs }),
      audioFiles,
      maxMessageChars: config.maxMessageChars,
      streamPingMs: config.streamPingMs,
      corsOrigins: config.corsOrigins,
      database: { ping: (timeoutMs) => database.ping(timeoutMs) },
      page: { dir: overrides.pageDir ?? PAGE_DIR, mediaOrigins: await audioOrigins(store, keyPrefix) },
      metrics,
      onClose: close,
    },
    database,
    speech,
    sessions,
    audioJobs,
    startBackgroundWork,
    synthesizer,
    store,
    model,
    keyPrefix,
    describe: () => ({
      llm: model.description,
      database: database.kind === 'pglite' ? `embedded PostgreSQL (PGlite) in ${path.join(config.dataDir, 'pglite')}` : 'PostgreSQL',
      speech: synthesizer.id,
      storage: storage.kind === 's3' ? `S3 bucket ${storage.bucket} (${storage.urlMode} URLs)` : `files in ${path.join(config.dataDir, 'audio')}`,
      audioKeyPrefix: JSON.stringify(keyPrefix),
      defaultVoice: config.defaultVoiceId,
      auth:
        auth.mode === 'none'
          ? 'none: every request acts as the local admin'
          : `required: admin key, API keys${auth.jwt ? ', JWTs' : ''}`,
      rateLimits: !limited
          ? 'off'
          : `${config.rateLimits.perMinute ?? 'unlimited'} requests and ${config.rateLimits.messagesPerMinute ?? 'unlimited'} messages per minute, ${redis ? 'shared in Redis' : 'per process'}`,
    }),
    close,
  };
}
