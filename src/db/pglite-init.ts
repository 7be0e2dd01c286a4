// The first start of the embedded database: creating it (PostgreSQL's initdb) in a child process.
//
// PGlite runs initdb inside the process that opens a new data directory, and WebAssembly memory is
// never given back to the system: PGlite alone held 737 MB after creating a database (865 MB peak),
// against 312 MB after opening an existing one, and the API that created its database kept about
// 300 MB more than the one that reopened it. A child process returns all of it when it exits: it
// creates the database and exits, and the API then opens the directory like any existing one.
//
// A killed first start must not leave a half-made database that later opens as broken. The child
// works in a sibling directory (`<dir>.initdb-<pid>`), and its files are moved into `<dir>` only
// once it has succeeded, PG_VERSION last: a directory counts as created once PG_VERSION is in it, so
// a start interrupted at any point before is simply a fresh start again.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PGlite, type QueryOptions, type Results, type Transaction } from '@electric-sql/pglite';

/** The file PostgreSQL writes into every data directory; PGlite itself looks for it to decide. */
const MARKER = 'PG_VERSION';

/** How much of the child's stderr a start error quotes. */
const STDERR_TAIL = 4000;

const tempPrefix = (dir: string) => `${path.basename(dir)}.initdb-`;

/** What db/ uses of a PGlite client: drizzle calls query() and transaction(). */
export type PgliteClient = Pick<PGlite, 'query' | 'transaction' | 'close' | 'waitReady'>;

/**
 * PGlite's settings for a database on disk. shared_buffers is PostgreSQL's default of 128 MB, and in
 * PGlite all of it is resident from the start, being WebAssembly memory that the start touches:
 * PGlite alone on an existing database measured 311 MB RSS, 182 MB with 32 MB, 163 MB with 16 MB.
 * The files stay in the system's page cache too, so a page read beyond the pool is a copy, not a
 * disk read: on a database of 66,600 messages (about 40 MB), all read once, GETs of 100, 1,000 and
 * 10,000 messages and appends took the same time with 32 MB as with 128 MB, within the noise (3
 * interleaved starts each). 32 MB rather than 16: the reads' index pages and a hot session or two
 * stay in the pool, for 19 MB more.
 */
const OPTIONS = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'] };

/**
 * PGlite on the data directory `dir`, whose lock the caller holds. A directory without a database
 * gets one from a child process first (initdbInChild); until then, and if that fails, every call
 * waits for it or fails with its error. Earlier first starts that were interrupted are cleared away.
 */
export function openPgliteDir(dir: string): PgliteClient {
  removeInterruptedInits(dir);
  return needsInitdb(dir) ? new PgliteAfterInitdb(dir) : new PGlite(dir, OPTIONS);
}

/** PGlite, opened once a child process has created its data directory. */
class PgliteAfterInitdb implements PgliteClient {
  readonly #abort = new AbortController();
  readonly #pglite: Promise<PGlite>;

  constructor(dir: string) {
    this.#pglite = initdbInChild(dir, this.#abort.signal).then(() => PGlite.create(dir, OPTIONS));
    // The failure reaches whoever waits or queries; unawaited, it must not crash the process.
    this.#pglite.catch(() => {});
  }

  get waitReady(): Promise<void> {
    return this.#pglite.then(() => {});
  }

  async query<T>(query: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return (await this.#pglite).query<T>(query, params, options);
  }

  async transaction<T>(callback: (tx: Transaction) => Promise<T>): Promise<T> {
    return (await this.#pglite).transaction(callback);
  }

  /** Stops a child still at work (its directory is deleted) or closes PGlite. */
  async close(): Promise<void> {
    this.#abort.abort();
    const pglite = await this.#pglite.catch(() => undefined);
    await pglite?.close();
  }
}

/** True when `dir` holds no database yet, so opening it would run initdb. */
function needsInitdb(dir: string): boolean {
  return !existsSync(path.join(dir, MARKER));
}

/**
 * Deletes the temporary directories of earlier first starts that were interrupted. Only for a
 * caller that holds the lock on `dir`: then no other process is creating it. A child whose parent
 * was killed stops on its own once its stdin closes, which may be a moment later, so this is
 * housekeeping that never fails a start: what it cannot delete now, a later start deletes.
 */
function removeInterruptedInits(dir: string): void {
  const parent = path.dirname(dir);
  const prefix = tempPrefix(dir);
  try {
    for (const name of readdirSync(parent)) {
      if (name.startsWith(prefix)) rmSync(path.join(parent, name), { recursive: true, force: true, maxRetries: 3 });
    }
  } catch {
    // left for the next start
  }
}

// Plain JavaScript for `node --input-type=module -e`, so that it runs the same from source (tsx,
// vitest) and from a compiled build, where there is no .ts file and no tsx. PGlite is imported by the
// absolute URL that the parent resolved, so the child's working directory does not matter.
const CHILD_SCRIPT = `
const [pgliteUrl, dir] = process.argv.slice(1);
// The parent holds the other end of stdin: when it dies, stop, since nobody will use this directory.
process.stdin.on('end', () => process.exit(70));
process.stdin.resume();
const { PGlite } = await import(pgliteUrl);
const db = await PGlite.create(dir);
await db.close();
process.exit(0);
`;

/**
 * Creates the database of `dir` (which must not hold one) in a child process, then moves it into
 * `dir`. Rejects with the child's stderr when it fails; `signal` kills the child. The caller holds
 * the lock on `dir`.
 */
async function initdbInChild(dir: string, signal?: AbortSignal): Promise<void> {
  const temp = path.join(path.dirname(dir), `${tempPrefix(dir)}${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  try {
    await runChild(temp, signal);
    if (!existsSync(path.join(temp, MARKER))) throw new Error(`initdb ended without writing ${MARKER}`);
    publish(temp, dir);
  } catch (err) {
    throw new Error(`could not create the embedded database in ${dir}: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
  }
}

function runChild(dir: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, import.meta.resolve('@electric-sql/pglite'), dir], {
      // No environment at all: the child needs none, the API's secrets have no business there, and
      // NODE_OPTIONS could carry the parent's loader or inspector (tsx, --inspect).
      env: {},
      stdio: ['pipe', 'ignore', 'pipe'],
      signal,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL)));
    // An error here is a failed spawn or the abort; 'close' follows when the child did start.
    child.on('error', (err) => reject(err));
    child.on('close', (code, killedBy) => {
      if (code === 0) resolve();
      else reject(new Error(`initdb child ${killedBy ? `killed by ${killedBy}` : `exited with code ${code}`}${stderr.trim() ? `:\n${stderr.trim()}` : ''}`));
    });
  });
}

/**
 * Moves the new database's files from `temp` into `dir`, PG_VERSION last. Entries of the same name
 * that an interrupted earlier move left in `dir` are replaced; anything else in `dir` (the lock file)
 * is left alone. PGlite runs with fsync off, so this is safe against a killed process, not against
 * power loss, like every later write of PGlite.
 */
function publish(temp: string, dir: string): void {
  for (const name of readdirSync(temp)) {
    if (name === MARKER) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
    renameSync(path.join(temp, name), path.join(dir, name));
  }
  renameSync(path.join(temp, MARKER), path.join(dir, MARKER));
}
