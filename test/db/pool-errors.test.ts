// The PostgreSQL pool when the server ends its connections (a restart, an administrator's
// pg_terminate_backend, DROP DATABASE WITH (FORCE)): the process stays up and the next query works.
// PostgreSQL only: PGlite has no server to end anything.
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { createScratchDatabase, TEST_DATABASE_URL } from '../support/test-database.ts';

describe.skipIf(!TEST_DATABASE_URL)('the PostgreSQL pool when the server ends its connections', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let admin: pg.Client;
  beforeAll(async () => {
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'pool');
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await scratch?.drop();
  });

  it('survives the termination of its idle connections and answers the next query', async () => {
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', record);
    const handle = openDatabase({ url: scratch.url });
    try {
      // Two idle connections in the pool.
      await Promise.all([handle.db.execute(sql`select pg_sleep(0.05)`), handle.db.execute(sql`select pg_sleep(0.05)`)]);
      const name = new URL(scratch.url).pathname.slice(1);
      const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
      expect(rowCount).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 200));

      const result = await handle.db.execute(sql`select 1 as one`);
      expect((result as unknown as { rows: Array<{ one: number }> }).rows[0]?.one).toBe(1);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
      await handle.close();
    }
  });
});
