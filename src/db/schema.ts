// The one Drizzle schema. Row types come from these tables; migrations are generated from them
// (`npm run db:generate`) and committed under src/db/migrations.
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

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
    ...timestamps,
  },
  (t) => [index('personas_created_at').on(t.createdAt)],
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
    ...timestamps,
  },
  (t) => [index('chat_sessions_created_at').on(t.createdAt), index('chat_sessions_persona_id').on(t.personaId)],
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

export type PersonaRow = typeof personas.$inferSelect;
export type ChatSessionRow = typeof chatSessions.$inferSelect;
export type ChatMessageRow = typeof chatMessages.$inferSelect;
