// Audio of pieces already paid for, kept after their reply failed, so that the retry of that reply
// bills only the pieces that failed (or never started). A retry comes from the durable audio jobs
// within minutes, or never; so this is a small LRU in memory, not storage. A process that restarts
// in between bills those pieces again.
import { hash } from 'node:crypto';

export interface PieceMemory {
  get(key: string): Uint8Array | undefined;
  set(key: string, mp3: Uint8Array): void;
  delete(key: string): void;
  /** Bytes of audio held now. */
  readonly bytes: number;
}

/** The key of one piece's audio: which engine, which voice, which words. */
export function pieceKey(synthesizerId: string, voiceId: string, text: string): string {
  // NUL separates the parts, so that no id, voice and text can be read as another split.
  return hash('sha256', `${synthesizerId}\0${voiceId}\0${text}`, 'hex');
}

/** Least recently used first out once the audio held passes maxBytes; a piece bigger than that is not kept. */
export function createPieceMemory(maxBytes: number): PieceMemory {
  if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be an integer >= 0, got ${maxBytes}`);
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const entries = new Map<string, Uint8Array>();
  let bytes = 0;
  const drop = (key: string) => {
    const mp3 = entries.get(key);
    if (!mp3) return;
    entries.delete(key);
    bytes -= mp3.byteLength;
  };
  return {
    get(key) {
      const mp3 = entries.get(key);
      if (mp3) {
        entries.delete(key);
        entries.set(key, mp3);
      }
      return mp3;
    },
    set(key, mp3) {
      drop(key);
      if (mp3.byteLength > maxBytes) return;
      entries.set(key, mp3);
      bytes += mp3.byteLength;
      for (const [oldest] of entries) {
        if (bytes <= maxBytes) break;
        drop(oldest);
      }
    },
    delete: drop,
    get bytes() {
      return bytes;
    },
  };
}
