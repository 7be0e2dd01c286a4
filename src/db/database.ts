// Opens PostgreSQL: PGlite (PostgreSQL compiled to WASM) under DATA_DIR when no DATABASE_URL is
// given, else a node-postgres pool. Both are driven through the same Drizzle schema and migrations.
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** An open transaction: what a repository gets when its statements must commit with others. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export interface DatabaseHandle {
  db: Database;
  /** 'pglite' or 'postgres', for the start-up log and the test output. */
  kind: 'pglite' | 'postgres';
  /**
   * True when no other process can use this database (PGlite, behind its lock file): work claimed by
   * anyone else before this process started is a dead process's and can be taken at once.
   */
  singleProcess: boolean;
  /** Applies the committed SQL migrations (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export type DatabaseTarget =
  | { url: string }
  /** A directory for PGlite's files, or undefined for an in-memory database (tests). */
  | { pgliteDir: string | undefined };

/** How long close() waits for PostgreSQL connections to confirm their end. */
const CLOSE_WAIT_MS = 5_000;

export function openDatabase(target: DatabaseTarget): DatabaseHandle {
  if ('url' in target) {
    const pool = new pg.Pool({ connectionString: target.url, max: 10 });
    // An idle connection that the server ends (a restart, a terminated backend) is reported as the
    // pool's 'error' event, which would crash the process with no listener. Nothing is lost: the pool
    // drops that connection and the next query opens another.
    pool.on('error', () => {});
    // pool.end() resolves once its connections are told to end, not once they have: close() waits for
    // the rest, so that a caller who drops the database or exits next finds no session left behind.
    const open = new Set<pg.PoolClient>();
    pool.on('connect', (client) => open.add(client));
    pool.on('remove', (client) => open.delete(client));
    const db = drizzlePg(pool, { schema });
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      singleProcess: false,
      migrate: () => migratePg(db, { migrationsFolder: MIGRATIONS_DIR }),
      close: async () => {
        await pool.end();
        // Bounded: a connection to a server that vanished without a word may never report its end.
        const signal = AbortSignal.timeout(CLOSE_WAIT_MS);
        while (open.size > 0 && !signal.aborted) await once(pool, 'remove', { signal }).catch(() => {});
      },
    };
  }
  const dir = target.pgliteDir;
  // PGlite fails with ENOENT unless the parent directory exists.
  if (dir) mkdirSync(dir, { recursive: true });
  const unlock = dir ? lockDataDir(dir) : () => {};
  const client = new PGlite(dir);
  const db = drizzlePglite(client, { schema });
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    // An in-memory database (tests) may be shared by several app instances in one process.
    singleProcess: dir !== undefined,
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_DIR }),
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

export class DataDirInUseError extends Error {}

/**
 * PGlite is a single-process database: two processes on one directory corrupt it. A lock file with
 * the owner's pid turns that mistake (say, the backfill CLI next to a running API) into a clear
 * error. A lock left by a process that no longer exists is taken over.
 */
function lockDataDir(dir: string): () => void {
  const lockPath = path.join(dir, 'chat-api.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockPath, 'utf8'));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUseError(
          `the embedded database in ${dir} is in use by process ${owner}; PGlite allows one process at a time (stop it, or use DATABASE_URL)`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new DataDirInUseError(`could not lock the embedded database in ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The database the config names: DATABASE_URL, else PGlite in DATA_DIR/pglite. */
export function databaseTargetFor(config: { databaseUrl: string | undefined; dataDir: string }): DatabaseTarget {
  return config.databaseUrl ? { url: config.databaseUrl } : { pgliteDir: path.join(config.dataDir, 'pglite') };
}

/** PostgreSQL's foreign_key_violation. */
export const FOREIGN_KEY_VIOLATION = '23503';

/** The SQLSTATE of a failed query: drizzle wraps driver errors, so it is on the error or its cause. */
export function pgCode(err: unknown): string | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
