// Opens PostgreSQL: PGlite (PostgreSQL compiled to WASM) under DATA_DIR when no DATABASE_URL is
// given, else a node-postgres pool. Both are driven through the same Drizzle schema and migrations.
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { DrizzleQueryError } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { DatabaseUnavailableError } from '../errors.ts';
import { openPgliteDir, type PgliteClient } from './pglite-init.ts';
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
  /**
   * One `select 1`, for readiness: resolves when the database answers within timeoutMs, else
   * rejects with a DatabaseUnavailableError (always) whose reason says what happened (no answer in
   * time, a refused connection, ...). Never takes longer than timeoutMs, whatever the database does.
   */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export type DatabaseTarget =
  | { url: string }
  /** A directory for PGlite's files, or undefined for an in-memory database (tests). */
  | { pgliteDir: string | undefined };

/** How long close() waits for PostgreSQL connections to confirm their end. */
const CLOSE_WAIT_MS = 5_000;

/**
 * The longest a query waits for a connection: a new one to a server that does not answer (a host
 * that is down drops packets rather than refusing them), or a free one of the pool's ten. node-postgres
 * waits forever by default, so a hung server would hang every request; past this the query fails
 * with "timeout exceeded when trying to connect" (or "Connection terminated due to connection
 * timeout"), which the API answers with 503. A stopped server refuses at once and needs no timeout.
 * 5 s is long enough never to trip on a healthy server, even with all ten connections busy
 * for a moment, and short enough that a client's own timeout (often 10-30 s) has not run out.
 */
const CONNECT_TIMEOUT_MS = 5_000;

export function openDatabase(target: DatabaseTarget): DatabaseHandle {
  if ('url' in target) {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // TCP keepalive, so that a connection to a server that vanished without a word (a host gone, a
      // network partition) is found dead by the kernel rather than kept forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle connection that the server ends (a restart, a terminated backend) is reported as the
    // pool's 'error' event, which would crash the process with no listener. Nothing is lost: the pool
    // drops that connection and the next query opens another.
    pool.on('error', () => {});
    // pool.end() resolves once its connections are told to end, not once they have: close() waits for
    // the rest, so that a caller who drops the database or exits next finds no session left behind.
    const open = new Set<pg.PoolClient>();
    pool.on('connect', (client) => {
      open.add(client);
      // A connection that ends while it is checked out (inside a transaction, when the server stops
      // or the backend is terminated) emits 'error' on its client, where the pool listens only while
      // the client is idle: with no listener, that would crash the process. The error also fails the
      // query in flight, which is how the caller learns of it, and the pool discards the client when
      // it is released, since it is no longer queryable.
      client.on('error', () => {});
    });
    pool.on('remove', (client) => open.delete(client));
    // A transaction takes its connection with pool.connect(), and drizzle lets that failure through
    // as it is, unlike a query's: it is turned into a DatabaseUnavailableError here, where it is known
    // to be the database's. (pool.query() connects with a callback, and drizzle wraps its failures.)
    const connect = pool.connect.bind(pool);
    pool.connect = ((callback?: Parameters<typeof connect>[0]) => {
      if (callback) return connect(callback);
      return connect().catch((err: unknown) => {
        throw connectionFailure(err) ?? err;
      });
    }) as typeof pool.connect;
    const db = drizzlePg(pool, { schema });
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      singleProcess: false,
      migrate: () => withMigrationLock(pool, () => migratePg(db, { migrationsFolder: MIGRATIONS_DIR })),
      ping: (timeoutMs) => pingWithin(timeoutMs, () => pool.query('select 1')),
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
  // A directory without a database gets it from a child process (initdb's memory is not kept here),
  // then opens as an existing one; see pglite-init.ts. In memory (tests), PGlite runs initdb itself.
  let client: PgliteClient;
  try {
    client = dir ? openPgliteDir(dir) : new PGlite();
  } catch (err) {
    unlock();
    throw err;
  }
  // drizzle calls only query() and transaction(), which every PgliteClient has.
  const db = drizzlePglite(client as PGlite, { schema });
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    // An in-memory database (tests) may be shared by several app instances in one process.
    singleProcess: dir !== undefined,
    migrate: async () => {
      // A failed first start fails here with its own message (the initdb child's stderr), rather
      // than wrapped in the first migration query's error.
      await client.waitReady;
      await migratePglite(db, { migrationsFolder: MIGRATIONS_DIR });
    },
    ping: (timeoutMs) => pingWithin(timeoutMs, () => client.query('select 1')),
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Runs the ping query, giving up after timeoutMs. The query itself cannot be cancelled: when the
 * time runs out it goes on (bounded by the pool's connect timeout), and its outcome is ignored.
 */
async function pingWithin(timeoutMs: number, query: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const answer = query();
  answer.catch(() => {});
  try {
    await Promise.race([answer, late]);
  } catch (err) {
    // Any failure of `select 1` means the database cannot serve, whatever its cause (a failed login,
    // say); only the SQLSTATE of an unexpected one is told, never the server's message.
    const code = pgCode(err);
    throw connectionFailure(err) ?? new DatabaseUnavailableError(code ? `the check failed (SQLSTATE ${code})` : 'the check failed', { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

export class DataDirInUseError extends Error {}

/** The advisory lock key of migrations: any fixed number that nothing else in the database uses. */
const MIGRATION_LOCK_KEY = 7_302_021_301;

/**
 * Instances started together on a database that lacks a migration would each apply it, and all but
 * the first would fail on the tables the first created (drizzle's migrator takes no lock). A session
 * advisory lock, held on a connection of its own while the migrator uses others, makes them take
 * turns: the next one finds the migrations recorded and applies nothing.
 */
async function withMigrationLock(pool: pg.Pool, migrate: () => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrate();
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

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

/**
 * Socket errors that mean the server cannot be reached or dropped the connection. Node puts the code
 * on the error (an AggregateError too, when every address of a host name refused).
 */
const NETWORK_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection broken',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * SQLSTATEs of a server that cannot serve now, whatever the query: class 08 (connection exception),
 * and from class 57 and 53 the server shutting down (57P01 admin_shutdown: pg_ctl stop -m fast;
 * 57P02 crash_shutdown), starting or recovering (57P03 cannot_connect_now) or full (53300
 * too_many_connections). Query errors (a constraint, a syntax error) are not among them: those are
 * bugs or conflicts, not an outage.
 */
const SERVER_UNAVAILABLE: Record<string, string> = {
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'the server has too many connections',
};

/**
 * node-postgres's own errors for a lost or missing connection, which carry no code: the socket ended
 * ("Connection terminated unexpectedly", or "... due to connection timeout"), the pool found no
 * connection in time, or a query went to a client whose connection had failed.
 */
const DRIVER_FAILURES: Array<[RegExp, string]> = [
  [/^Connection terminated due to connection timeout/, 'no connection in time'],
  [/^Connection terminated/, 'connection lost'],
  [/^timeout exceeded when trying to connect/, 'no connection in time'],
  [/^Client has encountered a connection error and is not queryable/, 'connection lost'],
];

/**
 * The DatabaseUnavailableError behind an error thrown by a query, when the query failed because the
 * database cannot be reached (see the tables above); undefined for any other error. Only failures
 * that came from the database count: drizzle wraps every driver error of a query in a
 * DrizzleQueryError (whose own message quotes the SQL and its parameters), and a transaction that
 * gets no connection throws a DatabaseUnavailableError already (see openDatabase). So an
 * ECONNREFUSED of S3, Polly or Redis is never mistaken for the database's.
 */
export function databaseUnavailable(err: unknown): DatabaseUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return e;
    if (e instanceof DrizzleQueryError) return connectionFailure(e.cause);
  }
  return undefined;
}

/** A DatabaseUnavailableError for a driver error that means the database cannot be reached. */
function connectionFailure(err: unknown): DatabaseUnavailableError | undefined {
  if (err instanceof DatabaseUnavailableError) return err;
  const reason = unavailableReason(err, 0);
  return reason === undefined ? undefined : new DatabaseUnavailableError(reason, { cause: err });
}

/** The reason, searched along the cause chain and into an AggregateError's errors; bounded against cycles. */
function unavailableReason(err: unknown, depth: number): string | undefined {
  for (let e: unknown = err, d = depth; e && typeof e === 'object' && d < 10; e = (e as { cause?: unknown }).cause, d++) {
    if (e instanceof DatabaseUnavailableError) return e.reason;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_FAILURES[code]) return `${NETWORK_FAILURES[code]} (${code})`;
      if (SERVER_UNAVAILABLE[code]) return `${SERVER_UNAVAILABLE[code]} (SQLSTATE ${code})`;
      if (/^08[0-9A-Z]{3}$/.test(code)) return `connection failure (SQLSTATE ${code})`;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') {
      const known = DRIVER_FAILURES.find(([pattern]) => pattern.test(message));
      if (known) return known[1];
    }
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) {
      for (const one of inner) {
        const reason = unavailableReason(one, d + 1);
        if (reason !== undefined) return reason;
      }
    }
  }
  return undefined;
}
