import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedMethods } from '../../src/http/allowed-methods.ts';
import { errorHandler } from '../../src/http/error-handler.ts';
import { audioFileRoutes } from '../../src/storage/audio-file-routes.ts';
import { AUDIO_CACHE_CONTROL } from '../../src/storage/audio-store.ts';
import { createFileAudioStore } from '../../src/storage/file-audio-store.ts';
import { fakeMp3, randomAudioKey } from './audio-store-contract.ts';

let dir: string;
let app: FastifyInstance;
let origin: string;
const key = randomAudioKey('audio/espeak-v1-mp3/');
const mp3 = fakeMp3(10_000);
const SECRET = 'TOP-SECRET-CONTENT';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-routes-'));
  const store = createFileAudioStore({ dir });
  await store.put(key, mp3);
  // A secret next to the store, as a target for traversal attempts.
  await writeFile(join(dir, 'secret.mp3'), SECRET);
  app = Fastify();
  // As in the app: the route throws errors.ts errors, which the error handler answers in HTTP terms.
  await app.register(allowedMethods);
  await app.register(errorHandler);
  await app.register(fastifySwagger, { openapi: { info: { title: 't', version: '1' } } });
  await app.register(audioFileRoutes, { store });
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /audio/*', () => {
  it('serves the MP3 with its type, immutable caching, a validator and byte ranges', async () => {
    const res = await app.inject({ method: 'GET', url: `/audio/${key}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/mpeg');
    expect(res.headers['cache-control']).toBe(AUDIO_CACHE_CONTROL);
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['etag']).toMatch(/^(W\/)?".+"$/);
    expect(res.headers['last-modified']).toBeTypeOf('string');
    expect(res.headers['content-length']).toBe(String(mp3.length));
    expect(Buffer.from(res.rawPayload).equals(Buffer.from(mp3))).toBe(true);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await app.inject({ method: 'HEAD', url: `/audio/${key}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/mpeg');
    expect(res.headers['cache-control']).toBe(AUDIO_CACHE_CONTROL);
    expect(res.headers['content-length']).toBe(String(mp3.length));
    expect(res.rawPayload.length).toBe(0);
  });

  it('serves a byte range with 206 and Content-Range', async () => {
    const res = await app.inject({ method: 'GET', url: `/audio/${key}`, headers: { range: 'bytes=100-199' } });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 100-199/${mp3.length}`);
    expect(res.headers['content-length']).toBe('100');
    expect(res.headers['content-type']).toBe('audio/mpeg');
    expect(Buffer.from(res.rawPayload).equals(Buffer.from(mp3.subarray(100, 200)))).toBe(true);

    const tail = await app.inject({ method: 'GET', url: `/audio/${key}`, headers: { range: 'bytes=-10' } });
    expect(tail.statusCode).toBe(206);
    expect(Buffer.from(tail.rawPayload).equals(Buffer.from(mp3.subarray(-10)))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 and the length', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/audio/${key}`,
      headers: { range: `bytes=${mp3.length + 10}-` },
    });
    expect(res.statusCode).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${mp3.length}`);
  });

  it('answers If-None-Match with the current ETag with 304 and no body', async () => {
    const first = await app.inject({ method: 'GET', url: `/audio/${key}` });
    const etag = first.headers['etag'];
    expect(etag).toBeTypeOf('string');
    const res = await app.inject({ method: 'GET', url: `/audio/${key}`, headers: { 'if-none-match': String(etag) } });
    expect(res.statusCode).toBe(304);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers['etag']).toBe(etag);
    expect(res.headers['cache-control']).toBe(AUDIO_CACHE_CONTROL);

    const stale = await app.inject({ method: 'GET', url: `/audio/${key}`, headers: { 'if-none-match': '"other"' } });
    expect(stale.statusCode).toBe(200);
  });

  it('is a 404 in Fastify error shape for a missing key', async () => {
    const res = await app.inject({ method: 'GET', url: `/audio/${randomAudioKey()}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
  });

  const hex = key.split('/').at(-1)!.slice(0, 64);
  it.each([
    '/audio/../../etc/passwd',
    '/audio/..%2f..%2fetc%2fpasswd',
    '/audio/%2e%2e/%2e%2e/etc/passwd',
    '/audio/%2e%2e/secret.mp3',
    '/audio/../secret.mp3',
    '/audio/secret.mp3',
    `/audio/audio//espeak-v1-mp3/${hex}.mp3`,
    `/audio/audio/espeak-v1-mp3/${hex.toUpperCase()}.mp3`,
    `/audio/audio/espeak-v1-mp3/${hex}.MP3`,
    `/audio/audio/espeak-v1-mp3/${hex}.wav`,
    `/audio/audio/espeak-v1-mp3/${hex}.mp3.tmp`,
    `/audio/audio/espeak-v1-mp3/${hex}`,
    '/audio/audio/espeak-v1-mp3/',
    '/audio/',
    `/audio/audio%2Fespeak-v1-mp3%2F${hex}.mp3%00`,
  ])('is a 404 for %s', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
    expect(res.body).not.toContain(SECRET);
  });

  // inject() resolves dot segments like a browser would; a hand-written request keeps them.
  it('is a 404 for dot segments sent raw over a real socket', async () => {
    for (const path of [
      '/audio/../secret.mp3',
      '/audio/%2e%2e/secret.mp3',
      '/audio/..%5csecret.mp3',
      '/audio/../../../../etc/passwd',
      `/audio/audio/espeak-v1-mp3/../espeak-v1-mp3/${hex}.mp3`,
      `/audio/audio/espeak-v1-mp3/./${hex}.mp3`,
    ]) {
      const { status, body } = await rawGet(origin, path);
      expect(status, path).toBe(404);
      expect(body).not.toContain(SECRET);
      expect(body).not.toContain('root:');
    }
    const ok = await rawGet(origin, `/audio/${key}`);
    expect(ok.status).toBe(200);
  });

  it('appears in the OpenAPI document', async () => {
    await app.ready();
    const doc = app.swagger() as { paths: Record<string, Record<string, { description?: string }>> };
    const path = Object.keys(doc.paths).find((p) => p.startsWith('/audio/'));
    expect(path).toBeDefined();
    expect(doc.paths[path!]!['get']?.description).toMatch(/audio_url/);
  });

  it('is documented as /audio/{key}, a parameter that may contain /', async () => {
    await app.ready();
    type Operation = { operationId?: string; parameters?: Array<{ name: string; in: string; description?: string }> };
    const doc = app.swagger() as { paths: Record<string, Record<string, Operation>> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/audio'))).toEqual(['/audio/{key}']);
    const get = doc.paths['/audio/{key}']!['get']!;
    expect(get.operationId).toBe('getAudio');
    expect(get.parameters).toEqual([expect.objectContaining({ name: 'key', in: 'path', description: expect.stringContaining("'/'") })]);
  });

  it('serves a key whose slashes are percent-encoded, as generated clients send a path parameter', async () => {
    const res = await app.inject({ method: 'GET', url: `/audio/${encodeURIComponent(key)}` });
    expect(res.statusCode).toBe(200);
    expect(Buffer.from(res.rawPayload).equals(Buffer.from(mp3))).toBe(true);
  });

  it('answers HEAD even in an app without automatic HEAD routes', async () => {
    const other = Fastify({ exposeHeadRoutes: false });
    try {
      await other.register(audioFileRoutes, { store: createFileAudioStore({ dir }) });
      const res = await other.inject({ method: 'HEAD', url: `/audio/${key}` });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(mp3.length));
      expect(res.rawPayload.length).toBe(0);
    } finally {
      await other.close();
    }
  });
});

/** A GET with the path exactly as written: fetch() would normalize '..' away before sending. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
