// Instances started together on a database that lacks migrations: they take turns, so every start
// succeeds and each migration is applied once. PostgreSQL only: PGlite is one process's database.
import { readdirSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { createScratchDatabase, TEST_DATABASE_URL } from '../support/test-database.ts';

describe.skipIf(!TEST_DATABASE_URL)('migrations started by several instances at once', () => {
  let scratch: { url: string; drop(): Promise<void> };
  const handles: DatabaseHandle[] = [];
  beforeAll(async () => {
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'migrate');
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await scratch?.drop();
  });

  it('all succeed on a fresh database, and each migration is recorded once', async () => {
    for (let i = 0; i < 4; i++) handles.push(openDatabase({ url: scratch.url }));
    const results = await Promise.allSettled(handles.map((h) => h.migrate()));
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);

    const recorded = await handles[0]!.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const applied = (recorded as unknown as { rows: Array<{ n: number }> }).rows[0]!.n;
    expect(applied).toBe(readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length);
  });
});
