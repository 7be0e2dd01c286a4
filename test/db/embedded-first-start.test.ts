// The embedded database's first start: a data directory without a database gets one from a child
// process (src/db/pglite-init.ts), and then opens in this process like any existing one. A first
// start that was interrupted, at any point, must leave nothing that breaks the next one.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, openDatabase } from '../../src/db/database.ts';
import { chatSessions } from '../../src/db/schema.ts';

// Each test creates a database (initdb, several seconds on a busy 2-core machine) at least once.
const FIRST_START_MS = 90_000;

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A new parent directory; the database goes into its `pglite` folder, as under DATA_DIR. */
function newRoot(): { root: string; dir: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'embedded-first-start-'));
  roots.push(root);
  return { root, dir: path.join(root, 'pglite') };
}

/** Opens the directory through the product's code, applies the migrations and writes a session. */
async function openAndWrite(dir: string, messageCount: number): Promise<string> {
  const handle = openDatabase({ pgliteDir: dir });
  try {
    await handle.migrate();
    const [row] = await handle.db.insert(chatSessions).values({ ownerId: 'first-start', messageCount }).returning({ id: chatSessions.id });
    return row!.id;
  } finally {
    await handle.close();
  }
}

async function readCount(dir: string, id: string): Promise<number | undefined> {
  const handle = openDatabase({ pgliteDir: dir });
  try {
    await handle.migrate();
    const rows = await handle.db.select({ n: chatSessions.messageCount }).from(chatSessions).where(eq(chatSessions.id, id));
    return rows[0]?.n;
  } finally {
    await handle.close();
  }
}

/** What the first start left beside the data directory: its temporary directories. */
const leftovers = (root: string) => readdirSync(root).filter((name) => name !== 'pglite');

describe('the embedded database on a fresh directory', () => {
  it(
    'is created, migrated, written and read, and then reopens with its rows',
    async () => {
      const { root, dir } = newRoot();
      const id = await openAndWrite(dir, 4);
      expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
      expect(leftovers(root)).toEqual([]);
      // The lock is released on close.
      expect(existsSync(path.join(dir, 'chat-api.lock'))).toBe(false);

      // A second open of the same directory is a reopen: the migrations are already there, so is the row.
      expect(await readCount(dir, id)).toBe(4);
      const second = await openAndWrite(dir, 6);
      expect(await readCount(dir, second)).toBe(6);
    },
    FIRST_START_MS,
  );

  it(
    'starts over after an interrupted first start: a temporary directory and a half-moved database',
    async () => {
      const { root, dir } = newRoot();
      // What a first start killed by surprise leaves: its child's temporary directory, and files of
      // a database moved into place before PG_VERSION, the file that makes a directory a database.
      mkdirSync(path.join(root, 'pglite.initdb-999999', 'base', '1'), { recursive: true });
      writeFileSync(path.join(root, 'pglite.initdb-999999', 'base', '1', '1249'), 'half written');
      mkdirSync(path.join(dir, 'base', '1'), { recursive: true });
      writeFileSync(path.join(dir, 'base', '1', '1249'), 'half moved');
      writeFileSync(path.join(dir, 'postgresql.conf'), 'half moved');
      // A lock whose process is gone, as a crash leaves it.
      writeFileSync(path.join(dir, 'chat-api.lock'), '999999');

      const id = await openAndWrite(dir, 2);
      expect(await readCount(dir, id)).toBe(2);
      expect(leftovers(root)).toEqual([]);
    },
    FIRST_START_MS,
  );

  it(
    'holds the lock during the first start, and a start killed with -9 during it does not break the next',
    async () => {
      const { root, dir } = newRoot();
      const database = new URL('../../src/db/database.ts', import.meta.url).href;
      const script = `import { openDatabase } from ${JSON.stringify(database)};\nawait openDatabase({ pgliteDir: ${JSON.stringify(dir)} }).migrate();\nsetInterval(() => {}, 1000);\n`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const exited = once(child, 'exit');
      try {
        // Wait until its initdb child is at work in its temporary directory.
        const deadline = Date.now() + 30_000;
        while (!leftovers(root).some((name) => name.startsWith('pglite.initdb-'))) {
          if (child.exitCode !== null) throw new Error(`the first start ended early:\n${stderr}`);
          if (Date.now() > deadline) throw new Error(`no initdb directory appeared:\n${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(() => openDatabase({ pgliteDir: dir })).toThrow(DataDirInUseError);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(false);

      const id = await openAndWrite(dir, 8);
      expect(await readCount(dir, id)).toBe(8);
      expect(leftovers(root)).toEqual([]);
    },
    FIRST_START_MS,
  );
});
