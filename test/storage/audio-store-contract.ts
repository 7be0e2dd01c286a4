// The behaviour every AudioStore must have, run against each implementation.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AudioStore } from '../../src/storage/audio-store.ts';

export interface AudioStoreSubject {
  store: AudioStore;
  /** GETs a URL from store.url() the way a browser would (over HTTP, or through app.inject). */
  fetchUrl(url: string): Promise<{ status: number; body: Uint8Array }>;
}

/** A fresh random key, so tests sharing one store never see each other's objects. */
export function randomAudioKey(prefix = 'audio/test-mp3/'): string {
  return `${prefix}${randomBytes(32).toString('hex')}.mp3`;
}

/** Bytes that look like an MP3 frame header followed by noise. */
export function fakeMp3(size = 4096): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.set([0xff, 0xfb, 0x90, 0x64]);
  return bytes;
}

export const INVALID_KEYS = [
  '',
  'x.mp3',
  '../' + 'a'.repeat(64) + '.mp3',
  'audio/../' + 'a'.repeat(64) + '.mp3',
  '/audio/' + 'a'.repeat(64) + '.mp3',
  'audio/' + 'A'.repeat(64) + '.mp3',
  'audio/' + 'a'.repeat(63) + '.mp3',
  'audio/' + 'a'.repeat(64) + '.wav',
  'audio//' + 'a'.repeat(64) + '.mp3',
  'audio/' + 'a'.repeat(64) + '.mp3/',
  'audio/%2e%2e/' + 'a'.repeat(64) + '.mp3',
];

export function audioStoreContract(name: string, makeStore: () => Promise<AudioStoreSubject> | AudioStoreSubject): void {
  describe(`AudioStore contract: ${name}`, () => {
    let subject: AudioStoreSubject;
    beforeAll(async () => {
      subject = await makeStore();
    });

    it('has() is false before put()', async () => {
      expect(await subject.store.has(randomAudioKey())).toBe(false);
    });

    it('has() is true after put(), for that key only', async () => {
      const key = randomAudioKey();
      await subject.store.put(key, fakeMp3());
      expect(await subject.store.has(key)).toBe(true);
      expect(await subject.store.has(randomAudioKey())).toBe(false);
    });

    it('stores keys without a prefix and with nested folders', async () => {
      for (const key of [randomAudioKey(''), randomAudioKey('audio/a_b/c-d/')]) {
        const mp3 = fakeMp3(100);
        await subject.store.put(key, mp3);
        expect(await subject.store.has(key)).toBe(true);
        const res = await subject.fetchUrl(await subject.store.url(key));
        expect(res.status).toBe(200);
        expect(Buffer.from(res.body).equals(Buffer.from(mp3))).toBe(true);
      }
    });

    it('the bytes put are the bytes served at url()', async () => {
      const key = randomAudioKey();
      const mp3 = fakeMp3(50_000);
      await subject.store.put(key, mp3);
      const res = await subject.fetchUrl(await subject.store.url(key));
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(mp3.length);
      expect(Buffer.from(res.body).equals(Buffer.from(mp3))).toBe(true);
    });

    it('put() again under the same key is harmless, and the last bytes win', async () => {
      const key = randomAudioKey();
      const mp3 = fakeMp3();
      await subject.store.put(key, mp3);
      await subject.store.put(key, mp3);
      expect(await subject.store.has(key)).toBe(true);
      let res = await subject.fetchUrl(await subject.store.url(key));
      expect(Buffer.from(res.body).equals(Buffer.from(mp3))).toBe(true);

      const other = fakeMp3(1000);
      await subject.store.put(key, other);
      res = await subject.fetchUrl(await subject.store.url(key));
      expect(Buffer.from(res.body).equals(Buffer.from(other))).toBe(true);
    });

    it('concurrent put() of the same key leaves one whole object', async () => {
      const key = randomAudioKey();
      const mp3 = fakeMp3(200_000);
      await Promise.all(Array.from({ length: 5 }, () => subject.store.put(key, mp3)));
      const res = await subject.fetchUrl(await subject.store.url(key));
      expect(Buffer.from(res.body).equals(Buffer.from(mp3))).toBe(true);
    });

    it('url() ends with the key, whose last segment is the filename, and needs no put()', async () => {
      const key = randomAudioKey('audio/espeak-v1-mp3/');
      const url = await subject.store.url(key);
      const pathname = new URL(url, 'http://relative.invalid').pathname;
      expect(pathname.endsWith('/' + key)).toBe(true);
      expect(pathname.split('/').at(-1)).toBe(key.split('/').at(-1));
      expect(await subject.store.url(key)).toBe(url);
    });

    it('url() of a missing key is not served', async () => {
      const res = await subject.fetchUrl(await subject.store.url(randomAudioKey()));
      expect(res.status).toBe(404);
    });

    it.each(INVALID_KEYS)('rejects the invalid key %j in has and put, the calls that touch storage', async (key) => {
      await expect(subject.store.has(key)).rejects.toThrow(/audio key/);
      await expect(subject.store.put(key, fakeMp3(10))).rejects.toThrow(/audio key/);
    });
  });
}
