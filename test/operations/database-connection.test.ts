// The PostgreSQL pool at the edge of an outage, in this process: a connection lost inside a
// transaction (which crashed the process before: its client's 'error' had no listener), and a server
// that accepts connections but never answers (a hung host), where nothing may wait forever.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUnavailable, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { DatabaseUnavailableError } from '../../src/errors.ts';
import { findPostgresBinaries, NO_POSTGRES_REASON, startPostgresServer, type PostgresServer } from '../support/postgres-server.ts';
import { createScratchDatabase, TEST_DATABASE_URL } from '../support/test-database.ts';

// The suite's PostgreSQL when there is one (a database of this file's own), else a private server.
const serverSource = TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : findPostgresBinaries() ? 'a private server' : undefined;

describe.skipIf(!serverSource)(
  `a connection lost inside a transaction (PostgreSQL: ${serverSource ?? `skipped: no TEST_DATABASE_URL and ${NO_POSTGRES_REASON}`})`,
  () => {
    let url: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      if (TEST_DATABASE_URL) {
        const scratch = await createScratchDatabase(TEST_DATABASE_URL, 'connection');
        url = scratch.url;
        cleanup = scratch.drop;
      } else {
        const server: PostgresServer = await startPostgresServer();
        url = server.url;
        cleanup = server.destroy;
      }
    });
    afterAll(async () => cleanup?.());

    it('fails the transaction as a database outage, keeps the process up, and the next query works', async () => {
      const uncaught: unknown[] = [];
      const record = (err: unknown) => uncaught.push(err);
      process.on('uncaughtException', record);
      const handle = openDatabase({ url });
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        // The backend is ended (SQLSTATE 57P01, then the socket closes) while the transaction's
        // client is checked out of the pool and waiting on a statement: what pg_ctl stop -m fast or
        // a failover does to a transaction in flight.
        const failed = await handle.db
          .transaction(async (tx) => {
            const { rows } = (await tx.execute(sql`select pg_backend_pid() as pid`)) as unknown as { rows: Array<{ pid: number }> };
            const ended = admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
            await tx.execute(sql`select pg_sleep(5)`);
            await ended;
          })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(failed).toBeInstanceOf(Error);
        expect(databaseUnavailable(failed)).toBeInstanceOf(DatabaseUnavailableError);
        // The socket's end arrives after the statement's error: give it time to be emitted.
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(uncaught).toEqual([]);

        const result = (await handle.db.execute(sql`select 1 as one`)) as unknown as { rows: Array<{ one: number }> };
        expect(result.rows[0]?.one).toBe(1);
        await handle.ping(2_000);
      } finally {
        process.off('uncaughtException', record);
        await admin.end();
        await handle.close();
      }
    });
  },
);

describe('a database server that accepts connections and never answers', () => {
  let server: Server;
  let handle: DatabaseHandle;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Takes the TCP connection and says nothing: a hung server, or a proxy in front of a dead one.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // One handle for both tests: closing it waits for its connection attempts to time out.
    handle = openDatabase({ url: `postgres://postgres@127.0.0.1:${(server.address() as { port: number }).port}/postgres` });
  });
  afterAll(async () => {
    await handle?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives the readiness ping up after its timeout, with the reason', async () => {
    const err = await handle.ping(500).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect((err as DatabaseUnavailableError).reason).toBe('no answer within 500 ms');
  });

  // Without the pool's connect timeout the query would wait forever, and so would the request.
  it('fails a query as a database outage once the connect timeout has run out, rather than hanging', async () => {
    const err = await handle.db.execute(sql`select 1`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(databaseUnavailable(err)?.reason).toBe('no connection in time');
  }, 15_000);
});
