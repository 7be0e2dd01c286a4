// A real S3-compatible server (s3rver) on loopback, with one bucket, for tests that drive the real
// S3 SDK. It counts every HTTP request it receives, so a test can prove that a code path makes no
// storage round trips at all.
//
// Limits: s3rver does not verify SigV4 signatures and ignores If-None-Match: *.
// Its access key and secret are both 'S3RVER'; pass S3_SERVER_CREDENTIALS to the client.
import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: Record<string, string>;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, kind: 'object'): string;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
}
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer: Server;
  store: S3rverStore;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

// s3rver is CommonJS and ships no type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export const S3_SERVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3_SERVER_REGION = 'us-east-1';

export interface S3RequestRecord {
  method: string;
  /** Path and query as received, e.g. '/test-bucket/audio/x.mp3?x-id=PutObject'. */
  url: string;
}

export interface S3TestServer {
  /** http://127.0.0.1:{port}; use it with forcePathStyle (an IP has no bucket subdomains). */
  endpoint: string;
  bucket: string;
  /** Number of HTTP requests received since the start or the last resetRequests(). */
  requests(): number;
  /** The requests themselves, oldest first. */
  requestLog(): S3RequestRecord[];
  resetRequests(): void;
  close(): Promise<void>;
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'test-bucket';
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  fixPutObjectRace(server.store);
  let address: { port: number };
  try {
    address = await server.run();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }

  // Counted at the socket's server, before s3rver's own handling, so nothing can slip past.
  let log: S3RequestRecord[] = [];
  server.httpServer.prependListener('request', (req) => {
    log.push({ method: req.method ?? '', url: req.url ?? '' });
  });

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    requests: () => log.length,
    requestLog: () => [...log],
    resetRequests: () => {
      log = [];
    },
    async close() {
      // Keep-alive sockets from SDK clients would otherwise hold close() open.
      server.httpServer.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver 3.7.1 answers a PutObject whose body it buffered before the file is written: its
 * filesystem store ends a write stream and resolves at once (lib/stores/filesystem.js, putObject).
 * A GET right after the PUT can then read the old bytes, or half of the new ones, which made tests
 * that fetch fresh audio flaky under load. Buffered bodies are written in full before the answer
 * here; streamed bodies keep s3rver's own path, which does wait.
 */
function fixPutObjectRace(store: S3rverStore): void {
  const original = store.putObject.bind(store);
  store.putObject = async (object) => {
    if (!Buffer.isBuffer(object.content)) return original(object);
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, object.content);
    const md5 = createHash('md5').update(object.content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: object.content.length, md5 };
  };
}
