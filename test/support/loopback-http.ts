// The plumbing every hand-written loopback test server needs: read a request body, listen on a
// random loopback port, find a free port for a server in another process, and close without waiting for the connections it still holds.
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Listens on 127.0.0.1 at a port the OS picks; resolves with the origin, e.g. http://127.0.0.1:41234. */
export async function listenOnLoopback(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/**
 * Closes the server at once. Delayed answers and SDK keep-alive agents hold connections open, and
 * a plain close() would wait for them; tests want the port gone in afterAll.
 */
export async function closeNow(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/** A loopback port that was free a moment ago, for a server started by another process (redis-server, postgres). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
