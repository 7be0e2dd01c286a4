// The owners migration (0001) on a database that holds rows made before owners existed: those rows
// belong to 'local' and the personas become shared, so nothing an operator had goes missing when
// access control arrives, in either mode.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../support/test-database.ts';

const ADMIN_KEY = 'migration-test-admin-key-0123456789abcdef';

/** A copy of the migrations folder that stops after the first migration: the schema before owners. */
function migrationsBeforeOwners(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'migrations-0000-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  expect(journal.entries[0]!.tag).toBe('0000_init');
  journal.entries = journal.entries.slice(0, 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

/** The rows of a raw query; both drivers answer { rows }. */
const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

async function migrateTo(handle: DatabaseHandle, folder: string) {
  // The handle's own migrate() always goes to the latest; this applies the folder given.
  if (handle.kind === 'pglite') await migratePglite(handle.db as never, { migrationsFolder: folder });
  else await migratePg(handle.db as never, { migrationsFolder: folder });
}

describe('the owners migration, on rows made before owners existed', () => {
  let dataDir: string;
  let database: TestDatabase;
  let personaId: string;
  let sessionId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'owner-migration-'));
    // PGlite on disk, so that the app can reopen what the old schema wrote.
    database =
      testDatabaseKind === 'postgres'
        ? await createTestDatabase()
        : { open: () => openDatabase({ pgliteDir: path.join(dataDir, 'pglite') }), drop: async () => {} };

    const folder = migrationsBeforeOwners();
    const old = database.open();
    try {
      await migrateTo(old, folder);
      // Written as the old code wrote them: no owner_id, no shared.
      const persona = await old.db.execute(
        sql`insert into personas (name, system_prompt, voice_id) values ('Old Ada', 'You are Ada.', 'Amy') returning id`,
      );
      personaId = rowsOf<{ id: string }>(persona)[0]!.id;
      const session = await old.db.execute(
        sql`insert into chat_sessions (persona_id, message_count) values (${personaId}, 2) returning id`,
      );
      sessionId = rowsOf<{ id: string }>(session)[0]!.id;
      await old.db.execute(
        sql`insert into chat_messages (session_id, seq, role, content) values
            (${sessionId}, 1, 'user', 'An old question.'), (${sessionId}, 2, 'model', 'An old answer.')`,
      );
    } finally {
      await old.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function withApp(env: Record<string, string>, body: (t: TestApp) => Promise<void>) {
    const t = await startTestApp(env, { reuse: { database, dataDir } });
    try {
      await body(t);
    } finally {
      await t.stop();
    }
  }

  it('keeps them working in AUTH_MODE=none: the local owner sees its session, and the persona is shared', async () => {
    await withApp({}, async (t) => {
      const personas = (await t.app.inject({ method: 'GET', url: '/api/personas' })).json();
      expect(personas).toEqual([expect.objectContaining({ id: personaId, name: 'Old Ada', shared: true })]);

      const sessions = (await t.app.inject({ method: 'GET', url: '/api/chat' })).json();
      expect(sessions.map((s: { session_id: string }) => s.session_id)).toEqual([sessionId]);

      const posted = await t.app.inject({ method: 'POST', url: `/api/chat/${sessionId}/message`, payload: { message: 'A new question.' } });
      expect(posted.statusCode).toBe(200);
      expect(posted.json().history.map((m: { content: string }) => m.content).slice(0, 2)).toEqual(['An old question.', 'An old answer.']);
      expect(posted.json().history).toHaveLength(4);
    });
  });

  it('shows them to admins in AUTH_MODE=required, shares the persona with users, and keeps the session from them', async () => {
    await withApp({ AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN_KEY }, async (t) => {
      const as = (credential: string) => ({ authorization: `Bearer ${credential}` });
      const admin = as(ADMIN_KEY);

      const session = await t.app.inject({ method: 'GET', url: `/api/chat/${sessionId}`, headers: admin });
      expect(session.statusCode).toBe(200);
      expect(session.json().history.map((m: { content: string }) => m.content)).toContain('An old answer.');
      expect(session.json().voice_id).toBe('Amy');

      const made = await t.app.inject({ method: 'POST', url: '/api/keys', headers: admin, payload: { name: 'a user' } });
      expect(made.statusCode).toBe(201);
      const user = as(made.json().key as string);

      // The old persona is shared: the user sees it and may start a chat with it, but not change it.
      const seen = await t.app.inject({ method: 'GET', url: `/api/personas/${personaId}`, headers: user });
      expect(seen.json()).toMatchObject({ id: personaId, shared: true });
      const chat = await t.app.inject({ method: 'POST', url: '/api/chat', headers: user, payload: { persona_id: personaId } });
      expect(chat.statusCode).toBe(201);
      const changed = await t.app.inject({ method: 'PATCH', url: `/api/personas/${personaId}`, headers: user, payload: { name: 'Mine' } });
      expect(changed.statusCode).toBe(403);

      // The old session is the local owner's, not the user's.
      expect((await t.app.inject({ method: 'GET', url: `/api/chat/${sessionId}`, headers: user })).statusCode).toBe(404);
      const listed = (await t.app.inject({ method: 'GET', url: '/api/chat', headers: user })).json();
      expect(listed.map((s: { session_id: string }) => s.session_id)).not.toContain(sessionId);
    });
  });

  it('leaves no default behind: a row written without an owner is refused', async () => {
    const handle = database.open();
    try {
      await expect(handle.db.execute(sql`insert into chat_sessions (message_count) values (0)`)).rejects.toThrow();
      const [row] = rowsOf<{ owner_id: string; shared: boolean }>(
        await handle.db.execute(sql`select owner_id, shared from personas where id = ${personaId}`),
      );
      expect(row).toEqual({ owner_id: 'local', shared: true });
    } finally {
      await handle.close();
    }
  });
});
