// How tests get a Redis: TEST_REDIS_URL when it is set (CI starts Debian's redis-server and sets
// it), else a private redis-server of this test file's own when one is on PATH, else none, and the
// tests that need one are reported as skipped with the reason.
//
// The product's Redis keys have a fixed prefix (chat-api-rate:), so test files cannot be kept apart
// by key names. Each file claims a logical database of its own instead (1-15; the claims live in
// database 0) and its URL names that database, so files running in parallel against one server never
// see each other's counts. The claimed database is flushed before each test and when the file ends:
// point TEST_REDIS_URL at a Redis for tests only (its own database number, if any, is ignored).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { unusedPort } from './loopback-http.ts';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

export const NO_REDIS_REASON =
  'no Redis: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) or put redis-server on PATH to run the Redis tests';

export interface TestRedis {
  /** redis://host:port/N, where N is the logical database this test file has to itself. */
  url: string;
  /** 'TEST_REDIS_URL' or 'private redis-server on port N', for failure messages. */
  source: string;
  /** Empties this file's database, so that no count of one test leaks into the next. */
  flush(): Promise<void>;
  /** Empties and releases the database, and stops the private server if there is one. */
  stop(): Promise<void>;
}

/** Logical databases handed out to test files; 0 holds the claims. Redis has 16 by default. */
const FIRST_DB = 1;
const LAST_DB = 15;
/** A claim outlives any test file; it expires so that a crashed run does not hold its database forever. */
const CLAIM_TTL_MS = 10 * 60_000;
const claimKey = (db: number) => `chatbox-test:db-claim:${db}`;

/** A Redis for this test file, or the reason there is none (the caller skips its tests with it). */
export async function startTestRedis(): Promise<TestRedis | { skipReason: string }> {
  if (TEST_REDIS_URL) return claimDatabase(TEST_REDIS_URL, 'TEST_REDIS_URL', async () => {});
  const binary = findOnPath('redis-server');
  if (!binary) return { skipReason: NO_REDIS_REASON };
  const server = await spawnRedisServer(binary);
  try {
    return await claimDatabase(server.url, `private redis-server on port ${server.port}`, server.stop);
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * Registers the hooks of a describe block that needs Redis: one Redis for the block, a flushed
 * database before each test, and each test skipped (reported as such, with the reason) when there
 * is no Redis. Read `.url` inside tests.
 */
export function useTestRedis(): { readonly url: string } {
  let redis: TestRedis | undefined;
  let skipReason = NO_REDIS_REASON;
  beforeAll(async () => {
    const started = await startTestRedis();
    if ('skipReason' in started) skipReason = started.skipReason;
    else redis = started;
  });
  beforeEach(async (ctx) => {
    if (!redis) return ctx.skip(skipReason);
    await redis.flush();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get url() {
      if (!redis) throw new Error(skipReason);
      return redis.url;
    },
  };
}

/** Takes the first free database of the server at baseUrl; `release` runs after it is given back. */
async function claimDatabase(baseUrl: string, source: string, release: () => Promise<void>): Promise<TestRedis> {
  const token = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const claims = connect(withDatabase(baseUrl, 0));
  let client: Redis | undefined;
  try {
    let db: number | undefined;
    for (let n = FIRST_DB; n <= LAST_DB && db === undefined; n++) {
      if ((await claims.set(claimKey(n), token, 'PX', CLAIM_TTL_MS, 'NX')) === 'OK') db = n;
    }
    if (db === undefined) {
      throw new Error(`${source}: databases ${FIRST_DB}-${LAST_DB} are all claimed by other test files (keys ${claimKey(FIRST_DB)}...)`);
    }
    const url = withDatabase(baseUrl, db);
    const mine = connect(url);
    client = mine;
    // A crashed earlier run may have left counts behind.
    await mine.flushdb();
    let stopped = false;
    return {
      url,
      source,
      flush: async () => void (await mine.flushdb()),
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await mine.flushdb();
          if ((await claims.get(claimKey(db))) === token) await claims.del(claimKey(db));
        } finally {
          mine.disconnect();
          claims.disconnect();
          await release();
        }
      },
    };
  } catch (err) {
    client?.disconnect();
    claims.disconnect();
    throw new Error(`${source} (${redacted(baseUrl)}): ${(err as Error).message}`, { cause: err });
  }
}

/** A client that fails fast rather than queueing commands while the server is away. */
function connect(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  // Failures reach the caller through the commands; without a listener ioredis prints each one.
  client.on('error', () => {});
  return client;
}

function withDatabase(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

const redacted = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts redis-server on a free loopback port, in memory only, and waits until it answers PING.
 * Another process can take the port between the probe and the server's bind, so a server that
 * exits at start is retried on another port.
 */
async function spawnRedisServer(binary: string): Promise<RedisServer> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await unusedPort();
    const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Its own log, kept for the error message if it does not come up.
    let output = '';
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const stop = stopper(child);
    try {
      await waitForPing(port, child);
      return { url: `redis://127.0.0.1:${port}`, port, stop };
    } catch (err) {
      await stop();
      lastError = new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${output}`);
    }
  }
  throw lastError!;
}

function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // Should the test worker exit without afterAll (a crash), the server goes with it.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return async () => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch (err) {
      lastError = err;
    } finally {
      probe.disconnect();
    }
    await sleep(50);
  }
  throw new Error(`no PONG within 10 s (${(lastError as Error | undefined)?.message ?? 'no answer'})`);
}
