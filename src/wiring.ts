// The one place where implementations are chosen from the config and connected. main.ts, the CLIs,
// the tests and the benchmarks all build the product through here.
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { createChatRepository, type ChatRepository } from './chat/chat-repository.ts';
import { createChatService } from './chat/chat-service.ts';
import type { Config } from './config/env.ts';
import { databaseTargetFor, openDatabase, type DatabaseHandle } from './db/database.ts';
import type { ChatModel } from './llm/chat-model.ts';
import { createChatModel } from './llm/create-chat-model.ts';
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
import type { AppDeps } from './app.ts';

export interface Product {
  app: AppDeps;
  database: DatabaseHandle;
  speech: SpeechCache;
  /** The chat repository: sessions and messages, for the CLIs that walk them. */
  sessions: ChatRepository;
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
}

export async function wireProduct(config: Config, log: FastifyBaseLogger, overrides: WiringOverrides = {}): Promise<Product> {
  const database = overrides.database ?? openDatabase(databaseTargetFor(config));
  try {
    await database.migrate();
  } catch (err) {
    await database.close();
    throw err;
  }

  const model = createChatModel(config.llm);

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
  const speech = createSpeechCache({ synthesizer, store, keyPrefix });

  const personaRepository = createPersonaRepository(database.db);
  const personas = createPersonaService({ personas: personaRepository, voices });
  const sessions = createChatRepository(database.db, { defaultVoiceId: config.defaultVoiceId });
  const chat = createChatService({
    sessions,
    personas: personaRepository,
    model,
    speech,
    log,
    llmTimeoutMs: config.llmTimeoutMs,
    llmHistoryLimit: config.llmHistoryLimit,
    speechTimeoutMs: config.speechTimeoutMs,
  });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      for (const release of releases) await release();
    } finally {
      await database.close();
    }
  };

  return {
    app: {
      personas,
      chat,
      voices,
      audioFiles,
      maxMessageChars: config.maxMessageChars,
      corsOrigins: config.corsOrigins,
      onClose: close,
    },
    database,
    speech,
    sessions,
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
    }),
    close,
  };
}
