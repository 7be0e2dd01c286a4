// One suite, two databases: PGlite in memory by default, or a real PostgreSQL server when
// TEST_DATABASE_URL is set (CI). Each call gets a database of its own, so test files can run in
// parallel against one server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const testDatabaseKind: 'postgres' | 'pglite' = TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestDatabase {
  /** Opens (another) handle on this test database, e.g. to simulate a restart. */
  open(): DatabaseHandle;
  /** Drops the database (PostgreSQL); handles must be closed first. */
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { pgliteDir?: string } = {}): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) {
    return { open: () => openDatabase({ pgliteDir: opts.pgliteDir }), drop: async () => {} };
  }
  const scratch = await createScratchDatabase(TEST_DATABASE_URL, 'test');
  return { open: () => openDatabase({ url: scratch.url }), drop: scratch.drop };
}

/**
 * A new, empty database on a PostgreSQL server (named `<prefix>_<random hex>`), and how to drop it.
 * The tests and the benchmarks each get one, so runs never see each other's rows.
 */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function admin(serverUrl: string, sql: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
