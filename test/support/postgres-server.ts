// A private, throwaway PostgreSQL cluster for tests that must stop and start the server itself (the
// outage drill), which they cannot do to the machine's shared server without breaking every other
// test file. Built from Debian's binaries (/usr/lib/postgresql/<version>/bin): initdb into a
// temporary directory, then pg_ctl on a free loopback port. stop() and start() keep the data, so
// the same URL serves the same rows again after an outage.
//
// initdb and postgres refuse to run as root. As root (in CI and in this container), they run as the
// `postgres` user through runuser, and the temporary directory is handed to that user.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unusedPort } from './loopback-http.ts';

const run = promisify(execFile);

const POSTGRES_LIB = '/usr/lib/postgresql';

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication: loopback only, no password). */
  url: string;
  port: number;
  /** The major version of the binaries, e.g. '15'. */
  version: string;
  /** pg_ctl stop -m fast: every session is ended (SQLSTATE 57P01), then the server exits. The data stays. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server if it runs, and deletes its directory. */
  destroy(): Promise<void>;
}

/**
 * The bin directory of the newest PostgreSQL installed the Debian way (15 preferred, being what the
 * product runs on), or undefined when there is none.
 */
export function findPostgresBinaries(): { bin: string; version: string } | undefined {
  if (!existsSync(POSTGRES_LIB)) return undefined;
  const versions = readdirSync(POSTGRES_LIB)
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(POSTGRES_LIB, v, 'bin', 'initdb')) && existsSync(path.join(POSTGRES_LIB, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  const version = versions.includes('15') ? '15' : versions[0];
  return version ? { bin: path.join(POSTGRES_LIB, version, 'bin'), version } : undefined;
}

export const NO_POSTGRES_REASON = `no PostgreSQL binaries under ${POSTGRES_LIB}/<version>/bin (apt-get install postgresql-15) to run a private server`;

/** Creates a cluster in a new temporary directory and starts it on a free loopback port. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const binaries = findPostgresBinaries();
  if (!binaries) throw new Error(NO_POSTGRES_REASON);
  const asRoot = process.getuid?.() === 0;
  const root = mkdtempSync(path.join(tmpdir(), 'pg-private-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
  }
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const tool = (name: string) => path.join(binaries.bin, name);
  // As root, the binaries run as postgres; runuser keeps the environment (no login shell).
  const command = (name: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', tool(name), ...args]] : [tool(name), args];
  const exec = (name: string, args: string[]) => run(...command(name, args));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3_000) : '(no log)');

  try {
    // --no-sync: a throwaway cluster does not need its files flushed, and initdb is much faster so.
    await exec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }

  let port = 0;
  let running = false;
  // Loopback TCP only, its socket in its own directory (not /var/run/postgresql, the machine
  // server's), no fsync (throwaway data), and a small footprint beside the machine's server.
  const options = () =>
    [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${root}'`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=100',
      '-c shared_buffers=32MB',
    ].join(' ');
  const pgCtlStart = () => exec('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', options()]);

  // Another process can take the port between the probe and the server's bind: then try another.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && !running; attempt++) {
    port = await unusedPort();
    try {
      await pgCtlStart();
      running = true;
    } catch (err) {
      lastError = err;
    }
  }
  if (!running) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`the private PostgreSQL did not start: ${(lastError as Error).message}\n${log()}`, { cause: lastError });
  }

  // Should the test worker exit without destroy() (a crash, a timeout), the server goes with it:
  // pg_ctl starts it detached, so nothing else would stop it.
  const onExit = () => {
    try {
      if (running) execFileSync(...command('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate']), { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    version: binaries.version,
    async stop() {
      if (!running) return;
      // -w: returns once the server has exited, so the port refuses connections from then on.
      await exec('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
      running = false;
    },
    async start() {
      if (running) return;
      try {
        await pgCtlStart();
      } catch (err) {
        throw new Error(`the private PostgreSQL did not start again on port ${port}: ${(err as Error).message}\n${log()}`, { cause: err });
      }
      running = true;
    },
    async destroy() {
      process.removeListener('exit', onExit);
      try {
        if (running) await exec('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30']);
      } finally {
        running = false;
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  return server;
}
