// Sessions and their messages, one row per message. Every query of a request takes the owner and
// puts it in its WHERE clause (messages through a join on their session), so another owner's session
// is never loaded: it is simply not found. Only the backfill's walk, an operator's tool, spans owners.
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import { FOREIGN_KEY_VIOLATION, pgCode, type Database, type Transaction } from '../db/database.ts';
import { chatMessages, chatSessions, personas } from '../db/schema.ts';
import type { ChatTurn } from '../llm/chat-model.ts';

export interface SessionRecord {
  id: string;
  personaId: string | null;
  /** The session's voice: its persona's voice_id, else DEFAULT_POLLY_VOICE_ID. */
  voiceId: string;
  systemPrompt: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A message with its 1-based position in the session, which the read path returns. */
export interface NumberedTurn extends ChatTurn {
  seq: number;
}

/** Which part of a history to read: the last `limit` messages whose seq is below `before`. */
export interface HistoryPage {
  limit?: number | undefined;
  before?: number | undefined;
}

export interface ChatRepository {
  createSession(ownerId: string, personaId: string | null): Promise<SessionRecord>;
  /** The owner's sessions, newest first. */
  listSessions(ownerId: string): Promise<SessionRecord[]>;
  findSession(ownerId: string, id: string): Promise<SessionRecord | undefined>;
  /**
   * The last `limit` messages whose seq is below `before`, oldest first; without `limit` every such
   * message, without `before` up to the newest (so `{}` is the whole history). Empty when the owner
   * has no such session.
   */
  messagePage(ownerId: string, sessionId: string, page: HistoryPage): Promise<NumberedTurn[]>;
  /** The last `limit` messages, oldest first, without their seq: what the LLM is sent. */
  recentMessages(ownerId: string, sessionId: string, limit: number): Promise<ChatTurn[]>;
  /**
   * Appends a user message and its reply as one transaction, directly after each other, and runs
   * `within` in that transaction (what must commit with the exchange: its audio job, its
   * Idempotency-Key). Returns the reply's 1-based position, or undefined when the owner's session no
   * longer exists.
   */
  appendExchange(
    ownerId: string,
    sessionId: string,
    userContent: string,
    modelContent: string,
    within?: (tx: Transaction, replySeq: number) => Promise<void>,
  ): Promise<number | undefined>;
  deleteSession(ownerId: string, id: string): Promise<boolean>;
  /** Whether any owner has this session: for the backfill, an operator's tool that spans owners. */
  sessionExistsForAnyOwner(id: string): Promise<boolean>;
  /**
   * One keyset page of model messages after `after`, in (session_id, seq) order, each with its
   * session's current voice: what the audio backfill walks.
   */
  modelMessagesPage(opts: {
    sessionId?: string | undefined;
    after?: { sessionId: string; seq: number } | undefined;
    limit: number;
  }): Promise<ModelMessageRecord[]>;
}

export interface ModelMessageRecord {
  sessionId: string;
  seq: number;
  content: string;
  voiceId: string;
}

/** The largest value of an integer column (PostgreSQL's int4), such as seq. */
const MAX_SEQ = 2 ** 31 - 1;

export class UnknownPersonaError extends Error {}

export function createChatRepository(db: Database, opts: { defaultVoiceId: string }): ChatRepository {
  // The one place where a session's voice is decided: its persona's voice, else the default. Every
  // query that needs a voice selects this expression over the persona join.
  const sessionVoice = sql<string>`coalesce(${personas.voiceId}, ${opts.defaultVoiceId})`;
  const sessionColumns = {
    id: chatSessions.id,
    personaId: chatSessions.personaId,
    voiceId: sessionVoice,
    systemPrompt: sql<string>`coalesce(${personas.systemPrompt}, '')`,
    createdAt: chatSessions.createdAt,
    updatedAt: chatSessions.updatedAt,
  };
  const sessionsWithPersona = () =>
    db.select(sessionColumns).from(chatSessions).leftJoin(personas, eq(personas.id, chatSessions.personaId));
  const turnColumns = { seq: chatMessages.seq, role: chatMessages.role, content: chatMessages.content };
  const ownSession = (ownerId: string, id: string) => and(eq(chatSessions.id, id), eq(chatSessions.ownerId, ownerId));
  // The messages of one session, if the owner's: the join on the session's primary key costs one
  // index probe, whatever the history's length.
  const ownTurns = (ownerId: string, sessionId: string, before?: number) =>
    db
      .select(turnColumns)
      .from(chatMessages)
      .innerJoin(chatSessions, eq(chatSessions.id, chatMessages.sessionId))
      .where(
        and(
          eq(chatMessages.sessionId, sessionId),
          eq(chatSessions.ownerId, ownerId),
          // seq is an integer column: a bound above its range excludes nothing, and PostgreSQL would
          // refuse it as an integer parameter.
          before === undefined || before > MAX_SEQ ? undefined : lt(chatMessages.seq, before),
        ),
      );
  // Walks the (session_id, seq) primary key backwards: the cost depends on the limit, not the history.
  const lastTurns = async (ownerId: string, sessionId: string, limit: number, before?: number) =>
    (await ownTurns(ownerId, sessionId, before).orderBy(desc(chatMessages.seq)).limit(limit)).reverse();

  return {
    async createSession(ownerId, personaId) {
      try {
        const [row] = await db.insert(chatSessions).values({ ownerId, personaId }).returning({ id: chatSessions.id });
        // Read back with the join, so the voice is resolved the same way as everywhere else.
        const [session] = await sessionsWithPersona().where(eq(chatSessions.id, row!.id));
        return session!;
      } catch (err) {
        // The persona was deleted between the service's check and this insert.
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new UnknownPersonaError();
        throw err;
      }
    },

    listSessions: (ownerId) =>
      sessionsWithPersona()
        .where(eq(chatSessions.ownerId, ownerId))
        .orderBy(desc(chatSessions.createdAt), desc(chatSessions.id)),

    async findSession(ownerId, id) {
      const [session] = await sessionsWithPersona().where(ownSession(ownerId, id));
      return session;
    },

    messagePage: (ownerId, sessionId, { limit, before }) =>
      limit === undefined
        ? ownTurns(ownerId, sessionId, before).orderBy(asc(chatMessages.seq))
        : lastTurns(ownerId, sessionId, limit, before),

    async recentMessages(ownerId, sessionId, limit) {
      if (limit <= 0) return [];
      const rows = await lastTurns(ownerId, sessionId, limit);
      return rows.map(({ role, content }) => ({ role, content }));
    },

    appendExchange(ownerId, sessionId, userContent, modelContent, within) {
      return db.transaction(async (tx) => {
        // The row lock taken here orders concurrent appends to one session and is held only for this
        // transaction's few statements, never across the LLM call or the synthesis.
        const [bumped] = await tx
          .update(chatSessions)
          .set({ messageCount: sql`${chatSessions.messageCount} + 2`, updatedAt: sql`now()` })
          .where(ownSession(ownerId, sessionId))
          .returning({ count: chatSessions.messageCount });
        if (!bumped) return undefined;
        await tx.insert(chatMessages).values([
          { sessionId, seq: bumped.count - 1, role: 'user', content: userContent },
          { sessionId, seq: bumped.count, role: 'model', content: modelContent },
        ]);
        await within?.(tx, bumped.count);
        return bumped.count;
      });
    },

    async deleteSession(ownerId, id) {
      const rows = await db.delete(chatSessions).where(ownSession(ownerId, id)).returning({ id: chatSessions.id });
      return rows.length > 0;
    },

    async sessionExistsForAnyOwner(id) {
      const [row] = await db.select({ id: chatSessions.id }).from(chatSessions).where(eq(chatSessions.id, id));
      return row !== undefined;
    },

    // The row comparison walks the (session_id, seq) primary key, so each page costs the same however
    // deep the walk is (OFFSET would rescan everything before it).
    modelMessagesPage: ({ sessionId, after, limit }) =>
      db
        .select({ sessionId: chatMessages.sessionId, seq: chatMessages.seq, content: chatMessages.content, voiceId: sessionVoice })
        .from(chatMessages)
        .innerJoin(chatSessions, eq(chatSessions.id, chatMessages.sessionId))
        .leftJoin(personas, eq(personas.id, chatSessions.personaId))
        .where(
          and(
            eq(chatMessages.role, 'model'),
            sessionId === undefined ? undefined : eq(chatMessages.sessionId, sessionId),
            after === undefined
              ? undefined
              : sql`(${chatMessages.sessionId}, ${chatMessages.seq}) > (${after.sessionId}::uuid, ${after.seq}::integer)`,
          ),
        )
        .orderBy(asc(chatMessages.sessionId), asc(chatMessages.seq))
        .limit(limit),
  };
}
