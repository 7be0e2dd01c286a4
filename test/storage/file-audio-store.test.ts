import Fastify, { type FastifyInstance } from 'fastify';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedMethods } from '../../src/http/allowed-methods.ts';
import { errorHandler } from '../../src/http/error-handler.ts';
import { audioFileRoutes } from '../../src/storage/audio-file-routes.ts';
import { createFileAudioStore } from '../../src/storage/file-audio-store.ts';
import { audioStoreContract, fakeMp3, randomAudioKey } from './audio-store-contract.ts';

let dir: string;
const apps: FastifyInstance[] = [];

/** An app that maps errors to answers as the API does (a missing file is a 404 in the error shape). */
async function audioApp(): Promise<FastifyInstance> {
  const app = Fastify();
  apps.push(app);
  await app.register(allowedMethods);
  await app.register(errorHandler);
  return app;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-audio-store-'));
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await rm(dir, { recursive: true, force: true });
});

audioStoreContract('file store, served by audioFileRoutes through inject', async () => {
  const store = createFileAudioStore({ dir: join(dir, 'contract') });
  const app = await audioApp();
  await app.register(audioFileRoutes, { store });
  await app.ready();
  return {
    store,
    async fetchUrl(url) {
      const res = await app.inject({ method: 'GET', url });
      return { status: res.statusCode, body: res.rawPayload };
    },
  };
});

audioStoreContract('file store, served by audioFileRoutes over real HTTP', async () => {
  const app = await audioApp();
  const base = join(dir, 'http');
  // A relative URL would need the origin; an absolute base is what a deployment behind a domain sets.
  const address = await (async () => {
    const store = createFileAudioStore({ dir: base });
    await app.register(audioFileRoutes, { store });
    return app.listen({ host: '127.0.0.1', port: 0 });
  })();
  const store = createFileAudioStore({ dir: base, publicBaseUrl: `${address}/audio/` });
  return {
    store,
    async fetchUrl(url) {
      const res = await fetch(url);
      return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
    },
  };
});

describe('createFileAudioStore', () => {
  it('keeps each key as a file under dir at the key path', async () => {
    const store = createFileAudioStore({ dir: join(dir, 'layout') });
    const key = randomAudioKey('audio/espeak-v1-mp3/');
    const mp3 = fakeMp3(777);
    await store.put(key, mp3);
    expect(store.pathOf(key)).toBe(join(dir, 'layout', key));
    expect(Buffer.from(await readFile(join(dir, 'layout', key))).equals(Buffer.from(mp3))).toBe(true);
  });

  it('builds URLs under /audio by default, or under publicBaseUrl with one slash', async () => {
    const key = randomAudioKey('audio/espeak-v1-mp3/');
    expect(await createFileAudioStore({ dir }).url(key)).toBe(`/audio/${key}`);
    expect(await createFileAudioStore({ dir, publicBaseUrl: 'https://cdn.example.com/a/' }).url(key)).toBe(
      `https://cdn.example.com/a/${key}`,
    );
    expect(await createFileAudioStore({ dir, publicBaseUrl: '/files' }).url(key)).toBe(`/files/${key}`);
  });

  it('pathOf rejects a non-key, so no path outside dir can be named', () => {
    const store = createFileAudioStore({ dir });
    expect(() => store.pathOf('../../etc/passwd')).toThrow(/audio key/);
    expect(() => store.pathOf(`../${'a'.repeat(64)}.mp3`)).toThrow(/audio key/);
  });

  it('has() is false for a directory at the key path', async () => {
    const store = createFileAudioStore({ dir: join(dir, 'dir-at-key') });
    const key = randomAudioKey();
    await mkdir(store.pathOf(key), { recursive: true });
    expect(await store.has(key)).toBe(false);
  });

  it('leaves no temporary files after writes', async () => {
    const store = createFileAudioStore({ dir: join(dir, 'no-temp') });
    const keys = Array.from({ length: 5 }, () => randomAudioKey('audio/x/'));
    await Promise.all(keys.flatMap((k) => [store.put(k, fakeMp3()), store.put(k, fakeMp3())]));
    const names = await readdir(join(dir, 'no-temp', 'audio', 'x'));
    expect(names.sort()).toEqual(keys.map((k) => k.split('/').at(-1)).sort());
  });

  it('a failed write leaves neither a partial file under the final name nor a temporary file', async () => {
    const store = createFileAudioStore({ dir: join(dir, 'failing') });
    const key = randomAudioKey('audio/x/');
    // A non-empty directory where the file should go: the data is written, then the rename fails.
    await mkdir(store.pathOf(key), { recursive: true });
    await writeFile(join(store.pathOf(key), 'occupant'), 'x');
    await expect(store.put(key, fakeMp3())).rejects.toThrow();
    expect(await readdir(join(dir, 'failing', 'audio', 'x'))).toEqual([key.split('/').at(-1)]);
    expect(await readdir(store.pathOf(key))).toEqual(['occupant']);
  });

  it('a concurrent reader never sees a partial file under the final name', async () => {
    const store = createFileAudioStore({ dir: join(dir, 'reader') });
    const key = randomAudioKey();
    const mp3 = fakeMp3(32 * 1024 * 1024);
    const path = store.pathOf(key);
    const sizes = new Set<number>();
    let writing = true;
    let polls = 0;
    // Poll from the main thread while the write runs in libuv's thread pool.
    const poll = (async () => {
      while (writing) {
        polls++;
        try {
          sizes.add(statSync(path).size);
        } catch {
          sizes.add(-1); // not there yet
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await store.put(key, mp3);
    writing = false;
    await poll;
    sizes.delete(-1);
    expect(polls).toBeGreaterThan(3); // the reader really ran during the write
    expect([...sizes].every((s) => s === mp3.length)).toBe(true);
    expect(statSync(path).size).toBe(mp3.length);
  });
});
