// One Polly test server per test file, with the real SDK client pointed at it.
import type { PollyClient } from '@aws-sdk/client-polly';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createPollyClient } from '../../src/speech/engines/polly/polly-client.ts';
import { startPollyServer, type PollyServer, type PollyServerOptions } from './polly-server.ts';

export interface PollyFixture {
  readonly server: PollyServer;
  readonly client: PollyClient;
}

/**
 * Registers the file's hooks: the server and client start in beforeAll, the server forgets its
 * requests and scripted failures before each test, and both close in afterAll. Read `server` and
 * `client` inside hooks and tests only; they do not exist before beforeAll has run.
 */
export function usePollyServer(options?: PollyServerOptions): PollyFixture {
  let server: PollyServer | undefined;
  let client: PollyClient | undefined;

  beforeAll(async () => {
    server = await startPollyServer(options);
    client = createPollyClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await server?.close();
  });
  beforeEach(() => server!.reset());

  return {
    get server() {
      if (!server) throw new Error('the Polly server starts in beforeAll');
      return server;
    },
    get client() {
      if (!client) throw new Error('the Polly client starts in beforeAll');
      return client;
    },
  };
}
