// Idempotency-Key on POST /api/chat/{session_id}/message (the convention of Stripe and the IETF
// httpapi draft): a client that lost the answer (a dropped connection, a crashed server) posts again
// with the same key and gets the first answer back, with nothing appended twice.
//
// A key is recorded before the LLM is asked, with the instance that holds it, and completed with the
// reply's seq inside the transaction that appends the exchange. So a completed key always has its
// exchange, and an exchange posted with a key always completes it. A request that fails before the
// append (the LLM failed, say) hands its key back, so the retry runs afresh. If the instance dies in
// between, its heartbeat stops and the key is free again for the same request (see db/instances.ts).
import { createHash } from 'node:crypto';
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { FOREIGN_KEY_VIOLATION, pgCode, type Database, type Transaction } from '../db/database.ts';
import { heldByLiveInstance } from '../db/instances.ts';
import { idempotencyKeys } from '../db/schema.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../errors.ts';

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_HOURS = 24;

export type IdempotencyStart =
  /** The key is this request's: go on, and complete or release it. */
  | { kind: 'proceed' }
  /** The same request was completed before: answer with the session as it was after `replySeq`. */
  | { kind: 'replay'; replySeq: number };

export interface IdempotencyKeys {
  /** Takes the key for this request, or says how to answer: a replay, 409 (in flight) or 422 (another request). */
  begin(ownerId: string, key: string, sessionId: string, message: string): Promise<IdempotencyStart>;
  /** In the append's transaction: the key now names this exchange. */
  complete(tx: Transaction, ownerId: string, key: string, replySeq: number): Promise<void>;
  /** The request failed before appending anything: the key is free for a retry. */
  release(ownerId: string, key: string): Promise<void>;
  /** Deletes keys older than the TTL. */
  purgeExpired(): Promise<void>;
}

const expired = sql`${idempotencyKeys.createdAt} < now() - ${`${IDEMPOTENCY_TTL_HOURS} hours`}::interval`;

export function createIdempotencyKeys(db: Database, instanceId: string): IdempotencyKeys {
  const own = (ownerId: string, key: string) => and(eq(idempotencyKeys.ownerId, ownerId), eq(idempotencyKeys.key, key));

  return {
    async begin(ownerId, key, sessionId, message) {
      // The session is part of the request: the same key and words sent to another session are
      // another request. NUL cannot occur in either (PostgreSQL text), so the join is unambiguous.
      const fingerprint = createHash('sha256').update(`${sessionId}\u0000${message}`, 'utf8').digest('hex');
      const [taken] = await insertOrNotFound(sessionId, () =>
        db
          .insert(idempotencyKeys)
          .values({ ownerId, key, sessionId, fingerprint, lockedBy: instanceId })
          .onConflictDoUpdate({
            target: [idempotencyKeys.ownerId, idempotencyKeys.key],
            set: { sessionId, fingerprint, lockedBy: instanceId, replySeq: null, createdAt: sql`now()` },
            // An expired key is a new key. The same request whose first attempt died in flight (its
            // instance stopped beating) may run again: nothing of it was appended.
            setWhere: or(
              expired,
              and(
                isNull(idempotencyKeys.replySeq),
                eq(idempotencyKeys.fingerprint, fingerprint),
                or(isNull(idempotencyKeys.lockedBy), sql`not ${heldByLiveInstance(idempotencyKeys.lockedBy)}`),
              ),
            ),
          })
          .returning({ ownerId: idempotencyKeys.ownerId }),
      );
      if (taken) return { kind: 'proceed' };

      const [first] = await db
        .select({ fingerprint: idempotencyKeys.fingerprint, replySeq: idempotencyKeys.replySeq })
        .from(idempotencyKeys)
        .where(own(ownerId, key));
      // Gone between the two statements (purged, or its session deleted): the caller may simply retry.
      if (!first) throw new ConflictError(`a request with Idempotency-Key ${JSON.stringify(key)} just ended; send it again`, 1);
      if (first.fingerprint !== fingerprint) {
        throw new UnprocessableError(
          `Idempotency-Key ${JSON.stringify(key)} was used in the last ${IDEMPOTENCY_TTL_HOURS} hours for another request ` +
            '(a different session or message); use a new key for a new message',
        );
      }
      if (first.replySeq === null) {
        throw new ConflictError(`a request with Idempotency-Key ${JSON.stringify(key)} is still in progress; retry when it has answered`, 1);
      }
      return { kind: 'replay', replySeq: first.replySeq };
    },

    async complete(tx, ownerId, key, replySeq) {
      await tx.update(idempotencyKeys).set({ replySeq, lockedBy: null }).where(own(ownerId, key));
    },

    async release(ownerId, key) {
      await db.delete(idempotencyKeys).where(and(own(ownerId, key), isNull(idempotencyKeys.replySeq), eq(idempotencyKeys.lockedBy, instanceId)));
    },

    async purgeExpired() {
      await db.delete(idempotencyKeys).where(expired);
    },
  };
}

/** The session was deleted between the service's check and the key's insert: a 404, as for any gone session. */
async function insertOrNotFound<T>(sessionId: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new NotFoundError(`chat session ${sessionId} not found`);
    throw err;
  }
}
