// The write-through audio cache (steps 4-6 of the write path in docs/architecture.md): one MP3 per (reply text, voice), stored
// under a content-addressed key, synthesized only on a miss and only once for concurrent misses.
//
// A reply's speech is capped (SPEECH_MAX_CHARS) and cut into pieces the engine accepts; the pieces of
// every reply go through one fair scheduler, one flow per audio key, so that a long reply cannot make
// the others wait behind its pieces (fair-scheduler.ts). When a piece fails, the reply's remaining
// pieces are not started, and the ones already paid for are kept in a small piece memory, so that a
// retry of the reply bills only what failed.
import type { AudioStore } from '../storage/audio-store.ts';
import { audioKey } from '../storage/audio-key.ts';
import { createFairScheduler, type FairScheduler, type FairSchedulerState } from './fair-scheduler.ts';
import { createPieceMemory, pieceKey } from './piece-memory.ts';
import { capSpeech } from './text/cap-speech.ts';
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
  /**
   * Characters sent to the engine by this call: 0 on a hit or when another call did the work, and
   * without the pieces kept from a failed attempt at the same reply.
   */
  billedCharacters: number;
}

export interface SpeechCache {
  /** The key of a reply's audio: the prefix and sha256(reply text + voice id). */
  keyFor(replyText: string, voiceId: string): string;
  /** The read path: the URL of a reply's audio, built without any storage call. */
  urlFor(replyText: string, voiceId: string): Promise<string>;
  /** The write path: makes sure the audio exists and returns its URL. Throws when synthesis or storage fails. */
  ensure(replyText: string, voiceId: string): Promise<EnsuredAudio>;
  /** Synthesis calls in flight and waiting now, over all replies (diagnostics and tests). */
  synthesisState?(): FairSchedulerState;
}

export interface SpeechCacheDeps {
  synthesizer: Synthesizer;
  store: AudioStore;
  keyPrefix: string;
  /**
   * SPEECH_MAX_CHARS: the most speech characters synthesized for one reply, the note that says the
   * rest is not read included (default DEFAULT_SPEECH_MAX_CHARS). The stored text stays whole.
   */
  maxSpeechChars?: number;
  /** The one scheduler in front of the synthesizer. Default: its own, of synthesizer.concurrency slots. */
  scheduler?: FairScheduler;
  /** Bytes of audio kept from failed replies' finished pieces (default 32 MiB). */
  pieceMemoryBytes?: number;
}

/** SPEECH_MAX_CHARS's default: about 20 minutes of speech. */
export const DEFAULT_SPEECH_MAX_CHARS = 20_000;

// toSpeechText parses markdown on the main thread: about 0.5 ms per 1,000 characters, 1.1 s for a
// 2,000,000-character reply. Of a reply this many times longer than the cap only the start is parsed,
// which still fills the cap unless most of that start is code or markup.
const PARSE_FACTOR = 4;

export function createSpeechCache({
  synthesizer,
  store,
  keyPrefix,
  maxSpeechChars = DEFAULT_SPEECH_MAX_CHARS,
  scheduler = createFairScheduler({ capacity: synthesizer.concurrency }),
  pieceMemoryBytes = 32 * 1024 * 1024,
}: SpeechCacheDeps): SpeechCache {
  // Single-flight: concurrent misses for one key share one synthesis. Entries live only while the
  // work is in flight, so this map never grows with the number of replies.
  const inFlight = new Map<string, Promise<EnsuredAudio>>();
  const pieceMemory = createPieceMemory(pieceMemoryBytes);
  // Fails early, at start-up, rather than on the first long reply.
  capSpeech('', maxSpeechChars);

  const keyFor = (replyText: string, voiceId: string) => audioKey(keyPrefix, replyText, voiceId);

  function speechFor(replyText: string): string {
    const parseLimit = maxSpeechChars * PARSE_FACTOR;
    if (replyText.length <= parseLimit) return capSpeech(toSpeechText(replyText) || NOTHING_TO_READ, maxSpeechChars);
    const end = /[\uD800-\uDBFF]/.test(replyText.charAt(parseLimit - 1)) ? parseLimit - 1 : parseLimit;
    return capSpeech(toSpeechText(replyText.slice(0, end)), maxSpeechChars, { partial: true });
  }

  /** Keeps a reply's finished pieces for its retry. */
  const remember = (keys: readonly string[], mp3s: ReadonlyArray<Uint8Array | undefined>) =>
    mp3s.forEach((mp3, i) => mp3 && pieceMemory.set(keys[i]!, mp3));

  /**
   * The reply's pieces in order, their piece keys, and the characters billed for them now. On the
   * first failed piece no further piece starts; the ones in flight are awaited (they are billed
   * whatever happens), and every finished piece is remembered before the failure is thrown.
   */
  async function synthesize(
    key: string,
    replyText: string,
    voiceId: string,
  ): Promise<{ keys: string[]; mp3s: Uint8Array[]; characters: number }> {
    const pieces = splitForSpeech(speechFor(replyText), synthesizer.maxChars);
    const keys = pieces.map((piece) => pieceKey(synthesizer.id, voiceId, piece));
    const mp3s = keys.map((k) => pieceMemory.get(k));
    const stop = new AbortController();
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      if (failure) return;
      failure = { error };
      stop.abort(error);
    };
    let characters = 0;
    await Promise.all(
      pieces.map(async (piece, i) => {
        if (mp3s[i]) return;
        try {
          // The abort happens inside the task, before the scheduler hands the freed slot to this
          // reply's next piece.
          const task = async () => {
            try {
              return await synthesizer.synthesize(piece, voiceId);
            } catch (error) {
              fail(error);
              throw error;
            }
          };
          mp3s[i] = await scheduler.run(key, task, stop.signal);
          characters += piece.length;
        } catch (error) {
          fail(error); // a piece that never started rejects with the first failure, already recorded
        }
      }),
    );
    if (failure) {
      remember(keys, mp3s);
      throw failure.error;
    }
    return { keys, mp3s: mp3s as Uint8Array[], characters };
  }

  async function ensureUncoalesced(key: string, replyText: string, voiceId: string): Promise<EnsuredAudio> {
    const url = await store.url(key);
    if (await store.has(key)) return { key, url, outcome: 'hit', billedCharacters: 0 };
    const { keys, mp3s, characters } = await synthesize(key, replyText, voiceId);
    try {
      await store.put(key, joinMp3(mp3s));
    } catch (err) {
      // Synthesized and paid for, but not stored: the retry needs only the upload.
      remember(keys, mp3s);
      throw err;
    }
    for (const k of keys) pieceMemory.delete(k);
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
    synthesisState: () => scheduler.state(),
  };
}
