// The write-through audio cache (steps 4-6 of the write path in docs/architecture.md): one MP3 per (reply text, voice), stored
// under a content-addressed key, synthesized only on a miss and only once for concurrent misses.
import type { AudioStore } from '../storage/audio-store.ts';
import { audioKey } from '../storage/audio-key.ts';
import { mapBounded } from './bounded.ts';
import { splitForSpeech } from './text/chunk-text.ts';
import { joinMp3 } from './mp3.ts';
import { toSpeechText } from './text/speech-text.ts';
import type { Synthesizer } from './synthesizer.ts';

/** Spoken for a reply with nothing to read aloud (only code, say), so its URL still plays. */
export const NOTHING_TO_READ = 'This reply has nothing to read aloud.';

export interface EnsuredAudio {
  key: string;
  url: string;
  /** 'hit': the store had it; 'synthesized': made now, or by a concurrent call for the same key. */
  outcome: 'hit' | 'synthesized';
  /** Characters sent to the engine by this call (0 on a hit or when another call did the work). */
  billedCharacters: number;
}

export interface SpeechCache {
  /** The key of a reply's audio: the prefix and sha256(reply text + voice id). */
  keyFor(replyText: string, voiceId: string): string;
  /** The read path: the URL of a reply's audio, built without any storage call. */
  urlFor(replyText: string, voiceId: string): Promise<string>;
  /** The write path: makes sure the audio exists and returns its URL. Throws when synthesis or storage fails. */
  ensure(replyText: string, voiceId: string): Promise<EnsuredAudio>;
}

export interface SpeechCacheDeps {
  synthesizer: Synthesizer;
  store: AudioStore;
  keyPrefix: string;
  /** How many pieces of one long reply are synthesized at once. */
  concurrency?: number;
}

export function createSpeechCache({ synthesizer, store, keyPrefix, concurrency = 4 }: SpeechCacheDeps): SpeechCache {
  // Single-flight: concurrent misses for one key share one synthesis. Entries live only while the
  // work is in flight, so this map never grows with the number of replies.
  const inFlight = new Map<string, Promise<EnsuredAudio>>();

  const keyFor = (replyText: string, voiceId: string) => audioKey(keyPrefix, replyText, voiceId);

  async function synthesize(replyText: string, voiceId: string): Promise<{ mp3: Uint8Array; characters: number }> {
    const speech = toSpeechText(replyText) || NOTHING_TO_READ;
    const pieces = splitForSpeech(speech, synthesizer.maxChars);
    const mp3s = await mapBounded(pieces, concurrency, (piece) => synthesizer.synthesize(piece, voiceId));
    return { mp3: joinMp3(mp3s), characters: pieces.reduce((n, p) => n + p.length, 0) };
  }

  async function ensureUncoalesced(key: string, replyText: string, voiceId: string): Promise<EnsuredAudio> {
    const url = await store.url(key);
    if (await store.has(key)) return { key, url, outcome: 'hit', billedCharacters: 0 };
    const { mp3, characters } = await synthesize(replyText, voiceId);
    await store.put(key, mp3);
    return { key, url, outcome: 'synthesized', billedCharacters: characters };
  }

  return {
    keyFor,
    urlFor: (replyText, voiceId) => store.url(keyFor(replyText, voiceId)),
    ensure(replyText, voiceId) {
      const key = keyFor(replyText, voiceId);
      const running = inFlight.get(key);
      if (running) return running.then((done) => ({ ...done, billedCharacters: 0 }));
      const work = ensureUncoalesced(key, replyText, voiceId).finally(() => inFlight.delete(key));
      inFlight.set(key, work);
      return work;
    },
  };
}
