// Builds the real product (real migrations, real services, real speech and storage choices) from an
// environment, the way main.ts does, and returns a Fastify app ready for inject() or listen().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { wireProduct, type Product, type WiringOverrides } from '../../src/wiring.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export interface TestApp {
  app: FastifyInstance;
  product: Product;
  config: Config;
  dataDir: string;
  /** The test database behind the app; pass it with dataDir as `reuse` to restart on the same data. */
  database: TestDatabase;
  /** Lines the product logged, parsed, for asserting on failures it reports. */
  logs: Array<Record<string, unknown>>;
  /** Closes the app and its database handle, keeping the data (for restart tests). */
  stop(): Promise<void>;
  /** Stops, then deletes the data. */
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Reuse the data of an earlier TestApp (a restart). */
  reuse?: { database: TestDatabase; dataDir: string };
  /** Keep the embedded database on disk under dataDir rather than in memory. */
  pgliteOnDisk?: boolean;
  /**
   * Another running instance whose database this one shares, as two API processes share one
   * PostgreSQL: same rows, separate caches and limits. Stop this one before the one it shares with.
   */
  shareDatabaseWith?: TestApp;
  /** Wiring knobs other than the database (e.g. jwksRefetchCooldownMs). */
  wiring?: Omit<WiringOverrides, 'database'>;
  /** The logger's level, 'info' by default; 'trace' to check that no level logs a secret. */
  logLevel?: Config['logLevel'];
}

export async function startTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = opts.reuse?.dataDir ?? opts.shareDatabaseWith?.dataDir ?? mkdtempSync(path.join(tmpdir(), 'chat-test-'));
  const config = parseConfig({ DATA_DIR: dataDir, LLM_PROVIDER: 'offline', ...env });
  const database =
    opts.reuse?.database ??
    opts.shareDatabaseWith?.database ??
    (await createTestDatabase({ pgliteDir: opts.pgliteOnDisk ? path.join(dataDir, 'pglite') : undefined }));

  const logs: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: opts.logLevel ?? 'info' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const shared = opts.shareDatabaseWith?.product.database;
  // A shared handle is closed by the instance that opened it, never by this one.
  // Two instances on one handle are two processes on one database: neither may take the other's work.
  const handle = shared ? { ...shared, singleProcess: false, close: async () => {} } : database.open();
  // The page this run built (test/support/web-build.ts), not dist/web, which may be stale or absent.
  const product = await wireProduct(config, log, { pageDir: inject('webDir'), ...opts.wiring, database: handle });
  const app = await buildApp(product.app, { logger: log });
  await app.ready();
  // As main.ts does: the heartbeat, the reply audio worker, the Idempotency-Key purge.
  await product.startBackgroundWork();

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    app,
    product,
    config,
    dataDir,
    logs,
    database,
    stop,
    async close() {
      await stop();
      if (shared) return;
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
