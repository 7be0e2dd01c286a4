// The one Drizzle schema. Row types come from these tables; migrations are generated from them
// (`npm run db:generate`) and committed under src/db/migrations.
import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';

// Who a row belongs to: a principal's owner_id (an API key's owner, a JWT's sub, or 'local' for
// everything made without access control). Every query on an owned table filters on it.
const ownerId = () => varchar('owner_id', { length: 200 }).notNull();

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

export const personas = pgTable(
  'personas',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: varchar('name', { length: 100 }).notNull(),
    systemPrompt: text('system_prompt').notNull().default(''),
    voiceId: varchar('voice_id', { length: 100 }),
    ownerId: ownerId(),
    // Made by an admin: every principal sees and uses it, and only admins change it.
    shared: boolean('shared').notNull().default(false),
    ...timestamps,
  },
  (t) => [index('personas_created_at').on(t.createdAt), index('personas_owner_id').on(t.ownerId)],
);

export const chatSessions = pgTable(
  'chat_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // A deleted persona leaves its sessions working; they fall back to the default voice.
    personaId: uuid('persona_id').references(() => personas.id, { onDelete: 'set null' }),
    // How many messages the session holds. An append bumps it under the row lock, which both orders
    // concurrent appends and gives each message its position without scanning the history.
    messageCount: integer('message_count').notNull().default(0),
    ownerId: ownerId(),
    ...timestamps,
  },
  // A session list is one owner's sessions, newest first: one index range, whatever the table holds.
  (t) => [index('chat_sessions_owner_created_at').on(t.ownerId, t.createdAt), index('chat_sessions_persona_id').on(t.personaId)],
);

// One row per message: an append is an INSERT whose cost does not grow with the history.
export const chatMessages = pgTable(
  'chat_messages',
  {
    sessionId: uuid('session_id')
      .notNull()
      .references(() => chatSessions.id, { onDelete: 'cascade' }),
    // 1-based position in the session; the primary key (session_id, seq) is the history's index.
    seq: integer('seq').notNull(),
    role: varchar('role', { length: 5 }).$type<'user' | 'model'>().notNull(),
    content: text('content').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] }), check('chat_messages_role', sql`${t.role} in ('user', 'model')`)],
);

// API keys made through the API. Only the SHA-256 of a key is kept: a copy of the table lets
// nobody in. key_prefix is the key's first characters, so that people can tell their keys apart.
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: varchar('name', { length: 100 }).notNull(),
    role: varchar('role', { length: 5 }).$type<'admin' | 'user'>().notNull(),
    ownerId: ownerId(),
    keyHash: varchar('key_hash', { length: 64 }).notNull(),
    keyPrefix: varchar('key_prefix', { length: 16 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('api_keys_key_hash').on(t.keyHash), check('api_keys_role', sql`${t.role} in ('admin', 'user')`)],
);

// The durable half of the write path: a reply's audio that is still owed. A row is written in the
// transaction that appends the exchange and deleted once the MP3 is stored, so the table holds only
// unfinished work (and failures, kept for the operator). The reply text is copied here because the
// key was computed from it; the session may be deleted while the job waits.
export const audioJobs = pgTable(
  'audio_jobs',
  {
    key: varchar('key', { length: 300 }).primaryKey(),
    replyText: text('reply_text').notNull(),
    voiceId: varchar('voice_id', { length: 100 }).notNull(),
    // 'pending' until stored (then the row goes), 'failed' once retrying cannot help.
    state: varchar('state', { length: 7 }).$type<'pending' | 'failed'>().notNull().default('pending'),
    // Claims so far: a claim counts before the work runs, so a job that kills its process still ends.
    attempts: integer('attempts').notNull().default(0),
    runAfter: timestamp('run_after', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    // The instance working on it (see instances) and since when; null when nobody is.
    lockedBy: uuid('locked_by'),
    lockedAt: timestamp('locked_at', { withTimezone: true, precision: 3 }),
    lastError: text('last_error'),
    ...timestamps,
  },
  (t) => [
    index('audio_jobs_due').on(t.state, t.runAfter),
    check('audio_jobs_state', sql`${t.state} in ('pending', 'failed')`),
  ],
);

// The API processes that are alive, by heartbeat. Work claimed by an instance that stopped beating
// (kill -9, a lost machine) is free for the others.
export const instances = pgTable('instances', {
  id: uuid('id').primaryKey(),
  startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  seenAt: timestamp('seen_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

// Idempotency-Key records of POST /api/chat/{id}/message, per owner, kept 24 hours. reply_seq is
// null while the first request is in flight (locked_by names its instance) and set in the
// transaction that appends the exchange, so "done" and "appended" can never disagree.
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    ownerId: ownerId(),
    key: varchar('key', { length: 255 }).notNull(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => chatSessions.id, { onDelete: 'cascade' }),
    // sha256 of the request (session and body): the same key with another request is refused.
    fingerprint: varchar('fingerprint', { length: 64 }).notNull(),
    lockedBy: uuid('locked_by'),
    replySeq: integer('reply_seq'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.key] }), index('idempotency_keys_created_at').on(t.createdAt), index('idempotency_keys_session_id').on(t.sessionId)],
);

export type PersonaRow = typeof personas.$inferSelect;
export type ChatSessionRow = typeof chatSessions.$inferSelect;
export type ChatMessageRow = typeof chatMessages.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
