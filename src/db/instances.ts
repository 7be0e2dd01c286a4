// Which API processes are alive, so that work one of them claimed (a reply's audio, an in-flight
// Idempotency-Key) is taken over when it dies. Each instance writes a heartbeat row; a claim whose
// instance has not beaten for STALE_AFTER_MS belongs to nobody.
//
// Why heartbeats rather than locks held on a connection: a lock needs a connection per claim, or a
// dedicated one per process, and PGlite has one connection for everything. A heartbeat works the
// same on both, at the price of a bounded delay before another instance takes over (STALE_AFTER_MS).
// The embedded database needs no delay: its lock file guarantees one process, so every other row is
// a dead process's and is cleared at start.
import { randomUUID } from 'node:crypto';
import { eq, ne, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import { instances } from './schema.ts';

/** How often an instance says it is alive. */
export const HEARTBEAT_MS = 5_000;
/** After this long without a heartbeat an instance counts as dead: three missed beats. */
export const STALE_AFTER_MS = 15_000;

/** True when `column` names an instance that is alive: what makes a claim hold. */
export function heldByLiveInstance(column: AnyPgColumn): SQL {
  return sql`exists (select 1 from ${instances} where ${instances.id} = ${column} and ${instances.seenAt} > now() - ${`${STALE_AFTER_MS} milliseconds`}::interval)`;
}

export interface InstanceRegistry {
  /** This process's id, written into the claims it makes. */
  readonly id: string;
  /** Registers this instance and keeps its heartbeat going. */
  start(): Promise<void>;
  /** Stops the heartbeat and removes the row: this instance's claims are free at once. */
  stop(): Promise<void>;
}

export function createInstanceRegistry(
  db: Database,
  opts: { singleProcess: boolean; onError(err: unknown): void },
): InstanceRegistry {
  const id = randomUUID();
  let timer: NodeJS.Timeout | undefined;

  const beat = () =>
    db
      .insert(instances)
      .values({ id })
      .onConflictDoUpdate({ target: instances.id, set: { seenAt: sql`now()` } });

  return {
    id,
    async start() {
      // Only the embedded database may clear every other row: it is this process's alone.
      if (opts.singleProcess) await db.delete(instances).where(ne(instances.id, id));
      // Rows of instances dead for a day are only history; heartbeats keep the live ones fresh.
      else await db.delete(instances).where(sql`${instances.seenAt} < now() - interval '1 day'`);
      await beat();
      timer = setInterval(() => beat().catch(opts.onError), HEARTBEAT_MS);
      // The heartbeat alone must not keep a process alive that has nothing else to do.
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await db.delete(instances).where(eq(instances.id, id));
    },
  };
}
