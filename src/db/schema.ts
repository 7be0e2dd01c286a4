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

export type PersonaRow = typeof personas.$inferSelect;
export type ChatSessionRow = typeof chatSessions.$inferSelect;
export type ChatMessageRow = typeof chatMessages.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
