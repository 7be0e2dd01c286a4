// Where synthesized MP3s live. Keys follow audio-key.ts: a prefix of plain folder names
// and a hex filename, so no key can name a path outside the store.

export interface AudioStore {
  /** One round trip at most (S3 HeadObject, or a stat). */
  has(key: string): Promise<boolean>;
  /** Stores an MP3 under its final key atomically, with an immutable cache lifetime. */
  put(key: string, mp3: Uint8Array): Promise<void>;
  /**
   * The URL a browser GETs. Never makes a network call: the read path calls it once per model
   * message. Async only because presigning may need to resolve (cached) credentials. It only
   * formats, so it does not re-check the key (that check cost as much as the hash on the read
   * path); has() and put(), which touch storage, reject anything that is not an audio key.
   */
  url(key: string): Promise<string>;
}

/** Immutable: the key is a hash of the content and voice, so the bytes behind it never change. */
export const AUDIO_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const AUDIO_CONTENT_TYPE = 'audio/mpeg';
