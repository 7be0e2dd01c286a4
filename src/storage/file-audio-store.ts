// The local audio store: one file per key under a directory (DATA_DIR/audio), served by the API
// itself through audio-file-routes.ts.
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isAudioKey } from './audio-key.ts';
import type { AudioStore } from './audio-store.ts';

export interface FileAudioStore extends AudioStore {
  /** The absolute path of the file behind a key (which need not exist yet). Throws for a non-key. */
  pathOf(key: string): string;
}

export interface FileAudioStoreOptions {
  dir: string;
  /**
   * Base of the URLs handed to clients. Default '/audio', relative to the API's origin, which is
   * where audioFileRoutes serves the files; set it to an absolute URL behind a CDN or proxy.
   */
  publicBaseUrl?: string | undefined;
}

/** The URL path under which audioFileRoutes serves the store, and the default URL base. */
export const AUDIO_ROUTE_PREFIX = '/audio';

export function createFileAudioStore(opts: FileAudioStoreOptions): FileAudioStore {
  const root = resolve(opts.dir);
  const urlPrefix = (opts.publicBaseUrl ?? AUDIO_ROUTE_PREFIX).replace(/\/+$/, '') + '/';

  // isAudioKey allows only folder names of [A-Za-z0-9_-] and a hex filename, so a key can never
  // climb out of root; checking it here too keeps that true whoever calls us.
  function pathOf(key: string): string {
    if (!isAudioKey(key)) throw new TypeError(`not an audio key: ${JSON.stringify(key)}`);
    return join(root, key);
  }

  return {
    pathOf,

    async has(key) {
      try {
        return (await stat(pathOf(key))).isFile();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },

    async put(key, mp3) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Write a uniquely named temporary file in the same directory (so rename stays within one
      // filesystem), flush it, then rename it over the final name. rename is atomic: a reader or a
      // crash sees no file or the whole file under the final name, never a part. The '.tmp' suffix
      // never matches isAudioKey, so a leftover from a crash is never served.
      const tmp = `${path}.${randomUUID()}.tmp`;
      try {
        const file = await open(tmp, 'wx');
        try {
          await file.writeFile(mp3);
          // Without the flush, a power loss after the rename can leave an empty file on some filesystems.
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async url(key) {
      return urlPrefix + key;
    },
  };
}
