// The database the API runs on, and the long histories the scenarios read. Posting 10,000 messages
// through HTTP would take minutes (every POST returns the whole history, so seeding that way is
// quadratic), so histories are written straight into the database with the product's own Drizzle
// schema before the API starts. The replies come from a pool whose audio is put into s3rver, so that
// the naive design's HEAD requests find real objects, as they would in production.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { LOCAL_OWNER } from '../src/access/principal.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { chatMessages, chatSessions } from '../src/db/schema.ts';
import { audioKey, defaultAudioKeyPrefix } from '../src/storage/audio-key.ts';
import { fakeSpeechMp3 } from '../test/support/polly-server.ts';
import { createScratchDatabase } from '../test/support/test-database.ts';
import type { Peers } from './peers.ts';
import { POLLY_ENGINE, VOICE } from './peers.ts';
import { markdownReply, userMessage } from './replies.ts';

/** Where the API's audio keys live: the default prefix for Polly's neural MP3s. */
export const KEY_PREFIX = defaultAudioKeyPrefix(`polly-${POLLY_ENGINE}-mp3`);

export const keyOf = (reply: string) => audioKey(KEY_PREFIX, reply, VOICE);

export interface BenchDatabase {
  /** What the API's environment needs: DATA_DIR, and DATABASE_URL for PostgreSQL. */
  apiEnv: Record<string, string>;
  kind: 'pglite' | 'postgres';
  open(): DatabaseHandle;
  /**
   * The same database for one more API process that runs beside the others, with a data directory
   * of its own (the auth scenario runs two at once). PGlite opens a data directory in one process
   * only, so there it is a copy of the directory, made while no process has it open; PostgreSQL
   * serves any number of processes, so there it is the same database. `destroy` deletes what the
   * fork added, never the database itself.
   */
  fork(): BenchFork;
  /** Drops the database (PostgreSQL) and deletes the data directory. */
  destroy(): Promise<void>;
}

export interface BenchFork {
  apiEnv: Record<string, string>;
  destroy(): void;
}

/** A fresh embedded database in a temp directory, or a fresh database on the given PostgreSQL server. */
export async function createBenchDatabase(postgresUrl: string | undefined): Promise<BenchDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-bench-'));
  if (!postgresUrl) {
    return {
      kind: 'pglite',
      apiEnv: { DATA_DIR: dataDir },
      // The same directory the API will open (databaseTargetFor: DATA_DIR/pglite); never both at once.
      open: () => openDatabase({ pgliteDir: path.join(dataDir, 'pglite') }),
      fork() {
        const copy = mkdtempSync(path.join(tmpdir(), 'chat-bench-fork-'));
        cpSync(dataDir, copy, { recursive: true });
        return { apiEnv: { DATA_DIR: copy }, destroy: () => rmSync(copy, { recursive: true, force: true }) };
      },
      destroy: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const scratch = await createScratchDatabase(postgresUrl, 'bench');
  return {
    kind: 'postgres',
    apiEnv: { DATA_DIR: dataDir, DATABASE_URL: scratch.url },
    open: () => openDatabase({ url: scratch.url }),
    fork() {
      const dir = mkdtempSync(path.join(tmpdir(), 'chat-bench-fork-'));
      return { apiEnv: { DATA_DIR: dir, DATABASE_URL: scratch.url }, destroy: () => rmSync(dir, { recursive: true, force: true }) };
    },
    async destroy() {
      await scratch.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Distinct replies in the seeded histories; each is used many times in a long session. */
const POOL_SIZE = 200;
export const seededReply = (i: number) => markdownReply(`Seeded reply ${i % POOL_SIZE}`);

/**
 * Creates one session per requested length (an even number of messages: user, model, ...) and
 * returns their ids in the same order. `owners` is the owner_id of them all, or one per length.
 * Sessions of the same length have the same messages, whoever owns them. Runs the migrations first.
 */
export async function seedSessions(
  database: BenchDatabase,
  lengths: readonly number[],
  owners: string | readonly string[] = LOCAL_OWNER,
): Promise<string[]> {
  if (typeof owners !== 'string' && owners.length !== lengths.length) throw new Error('seedSessions: one owner per length');
  const handle = database.open();
  try {
    await handle.migrate();
    const ids: string[] = [];
    for (const [i, length] of lengths.entries()) {
      const ownerId = typeof owners === 'string' ? owners : owners[i]!;
      const messages = length - (length % 2);
      const [row] = await handle.db
        .insert(chatSessions)
        .values({ ownerId, messageCount: messages })
        .returning({ id: chatSessions.id });
      const sessionId = row!.id;
      const BATCH = 1000;
      for (let start = 0; start < messages; start += BATCH) {
        const rows = [];
        for (let seq = start + 1; seq <= Math.min(messages, start + BATCH); seq++) {
          const exchange = Math.ceil(seq / 2);
          rows.push(
            seq % 2 === 1
              ? { sessionId, seq, role: 'user' as const, content: userMessage(`Question ${exchange}`) }
              : { sessionId, seq, role: 'model' as const, content: seededReply(exchange) },
          );
        }
        await handle.db.insert(chatMessages).values(rows);
      }
      ids.push(sessionId);
    }
    return ids;
  } finally {
    await handle.close();
  }
}

/** Puts the audio of every seeded reply into the bucket, as the write path would have. */
export async function seedAudio(peers: Peers): Promise<void> {
  for (let i = 0; i < POOL_SIZE; i++) {
    const reply = seededReply(i);
    await peers.s3Client.send(
      new PutObjectCommand({
        Bucket: peers.s3.bucket,
        Key: keyOf(reply),
        Body: fakeSpeechMp3(reply.slice(0, 200)),
        ContentType: 'audio/mpeg',
      }),
    );
  }
}
