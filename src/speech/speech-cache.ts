// The write-through audio cache (steps 4-6 of the write path in docs/architecture.md): one MP3 per (reply text, voice), stored
// under a content-addressed key, synthesized only on a miss and only once for concurrent misses.
//
// A reply is voiced in segments (text/segmenter.ts): its speech, capped at SPEECH_MAX_CHARS, cut at
// sentence ends as the text arrives, the first segment short so that a streamed reply is heard early.
// Each segment is one engine call, and the stored MP3 is the segments joined. A streamed reply and the
// same reply posted without streaming are cut alike, so they bill the same characters and store the
// same audio.
//
// Two ways to voice a reply, one code path:
// - lazy (the plain POST, the worker, the backfill): when the reply is complete, ask the store first;
//   only a miss synthesizes, so a reply voiced before costs nothing.
// - eager (a streamed POST): each segment is synthesized as soon as it is cut, for the listener; the
//   store is asked only at the end, and a reply whose key exists stores nothing more. The limit: a
//   streamed reply whose exact text and voice were voiced before is billed again. LLM replies rarely
//   repeat word for word, and the alternative, waiting for the whole reply, is what streaming exists
//   to avoid.
//
// The segments of every reply go through one fair scheduler, one flow per reply, so that a long reply
// cannot make the others wait behind its segments (fair-scheduler.ts). When a segment fails, the
// reply's segments that have not started never start, and the ones already paid for are kept in a
// small piece memory, so that a retry of the reply bills only what failed.
import { randomUUID } from 'node:crypto';
import type { Metrics } from '../metrics/metrics.ts';
import type { AudioStore } from '../storage/audio-store.ts';
import { audioKey } from '../storage/audio-key.ts';
import { createFairScheduler, type FairScheduler, type FairSchedulerState } from './fair-scheduler.ts';
import { createPieceMemory, pieceKey } from './piece-memory.ts';
import { createSegmenter } from './text/segmenter.ts';
import { joinMp3 } from './mp3.ts';
import type { Synthesizer } from './synthesizer.ts';

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

/** One segment's outcome, delivered in index order: its MP3, or the error that stopped it. */
export interface SegmentAudio {
  index: number;
  /** The words spoken. */
  text: string;
  mp3: Uint8Array | null;
  error?: unknown;
}

/** One reply being voiced while its text arrives. */
export interface ReplySpeech {
  /** The reply's next text delta. */
  push(delta: string): void;
  /** The reply is complete. */
  end(): void;
  /** The reply will not be stored (its LLM failed): segments that have not started never will. */
  abandon(): void;
  /**
   * After end(): the segments joined and stored under `key`, unless the store has it already.
   * Throws when a segment or the store failed; what was paid for is kept for the retry.
   */
  store(key: string): Promise<EnsuredAudio>;
}

export interface SpeakOptions {
  /** Synthesize each segment as soon as it is cut (streaming); else only at store(), on a miss. */
  eager: boolean;
  /** Called once per segment, in index order. */
  onSegment?: (segment: SegmentAudio) => void;
}

export interface SpeechCache {
  /** The key of a reply's audio: the prefix and sha256(reply text + voice id). */
  keyFor(replyText: string, voiceId: string): string;
  /** The read path: the URL of a reply's audio, built without any storage call. */
  urlFor(replyText: string, voiceId: string): Promise<string>;
  /** The write path for a complete reply: makes sure the audio exists and returns its URL. Throws when synthesis or storage fails. */
  ensure(replyText: string, voiceId: string): Promise<EnsuredAudio>;
  /** The write path for a reply whose text is still arriving. */
  speak(voiceId: string, options: SpeakOptions): ReplySpeech;
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
  /** Where speech_cache_lookups_total is counted (see finish()). Default: nowhere. */
  metrics?: Pick<Metrics, 'speechCacheLookup'>;
}

/** SPEECH_MAX_CHARS's default: about 20 minutes of speech. */
export const DEFAULT_SPEECH_MAX_CHARS = 20_000;

export function createSpeechCache({
  synthesizer,
  store,
  keyPrefix,
  maxSpeechChars = DEFAULT_SPEECH_MAX_CHARS,
  scheduler = createFairScheduler({ capacity: synthesizer.concurrency }),
  pieceMemoryBytes = 32 * 1024 * 1024,
  metrics,
}: SpeechCacheDeps): SpeechCache {
  // Single-flight: concurrent stores of one key share one piece of work. Entries live only while the
  // work is in flight, so this map never grows with the number of replies.
  const inFlight = new Map<string, Promise<EnsuredAudio>>();
  const pieceMemory = createPieceMemory(pieceMemoryBytes);
  const segmenterOptions = { maxChars: synthesizer.maxChars, maxSpeechChars };
  // A segmenter checks both limits: a bad one fails here, at start-up, not on the first reply.
  createSegmenter(segmenterOptions);

  const keyFor = (replyText: string, voiceId: string) => audioKey(keyPrefix, replyText, voiceId);

  function speak(voiceId: string, { eager, onSegment }: SpeakOptions): ReplySpeech {
    const segmenter = createSegmenter(segmenterOptions);
    // A flow of its own in the scheduler: the reply's key is not known until its text is complete.
    const flow = randomUUID();
    const texts: string[] = [];
    const work: Array<Promise<void>> = [];
    const mp3s: Array<Uint8Array | undefined> = [];
    const outcomes: SegmentAudio[] = [];
    let delivered = 0;
    let characters = 0;
    let ended = false;
    let abandoned = false;
    const stop = new AbortController();
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      if (failure) return;
      failure = { error };
      stop.abort(error);
    };

    /** Hands outcomes to onSegment in index order, as the ones before them are ready. */
    function settle(outcome: SegmentAudio): void {
      outcomes[outcome.index] = outcome;
      // An abandoned reply has no listener left to tell: its stream ends with the LLM's error.
      if (abandoned) return;
      for (let next = outcomes[delivered]; next; next = outcomes[delivered]) {
        delivered++;
        onSegment?.(next);
      }
    }

    function synthesize(index: number): Promise<void> {
      const text = texts[index]!;
      const remembered = pieceMemory.get(pieceKey(synthesizer.id, voiceId, text));
      if (remembered) {
        mp3s[index] = remembered;
        settle({ index, text, mp3: remembered });
        return Promise.resolve();
      }
      // The abort happens inside the task, before the scheduler hands the freed slot to this reply's
      // next segment.
      const task = async () => {
        try {
          return await synthesizer.synthesize(text, voiceId);
        } catch (error) {
          fail(error);
          throw error;
        }
      };
      return scheduler.run(flow, task, stop.signal).then(
        (mp3) => {
          mp3s[index] = mp3;
          characters += text.length;
          settle({ index, text, mp3 });
        },
        (error: unknown) => {
          fail(error); // a segment that never started rejects with the first failure, already recorded
          settle({ index, text, mp3: null, error: failure!.error });
        },
      );
    }

    function add(segments: string[]): void {
      for (const text of segments) {
        texts.push(text);
        if (eager) work.push(synthesize(texts.length - 1));
      }
    }

    /** Every segment synthesized (or failed), then the join, unless the store has the key. */
    async function finish(key: string): Promise<EnsuredAudio> {
      const url = await store.url(key);
      if (!eager) {
        // A lookup is this has(): the one that decides whether a complete reply is synthesized. So
        // one per lazy store of a key, not per caller (single-flight followers ask nothing), and none
        // for a streamed reply, which is billed before its key exists: its has() below only skips
        // the upload. A miss whose pieces come from the piece memory is still a miss.
        const hit = await store.has(key);
        metrics?.speechCacheLookup(hit ? 'hit' : 'miss');
        if (hit) return { key, url, outcome: 'hit', billedCharacters: 0 };
        texts.forEach((_, i) => work.push(synthesize(i)));
      }
      await Promise.all(work);
      const keys = texts.map((text) => pieceKey(synthesizer.id, voiceId, text));
      const remember = () => mp3s.forEach((mp3, i) => mp3 && pieceMemory.set(keys[i]!, mp3));
      if (failure) {
        remember();
        throw failure.error;
      }
      // A streamed reply whose audio was stored meanwhile (or long ago) adds nothing to the store.
      if (!eager || !(await store.has(key))) {
        try {
          await store.put(key, joinMp3(mp3s as Uint8Array[]));
        } catch (err) {
          // Synthesized and paid for, but not stored: the retry needs only the upload.
          remember();
          throw err;
        }
      }
      for (const k of keys) pieceMemory.delete(k);
      return { key, url, outcome: 'synthesized', billedCharacters: characters };
    }

    // Lazy, nothing is synthesized before the end, so the text is cut once, whole: the segmenter
    // re-parses a growing text (about nine parses of the whole reply), which only streaming needs.
    // The segments are the same either way.
    let unsegmented = '';
    return {
      push(delta) {
        if (ended) return;
        if (eager) add(segmenter.push(delta));
        else unsegmented += delta;
      },
      end() {
        if (ended) return;
        ended = true;
        add(segmenter.push(unsegmented));
        add(segmenter.end());
      },
      abandon() {
        ended = true;
        abandoned = true;
        stop.abort(new Error('the reply was abandoned'));
      },
      store(key) {
        if (!ended) throw new Error('store() before end()');
        const running = inFlight.get(key);
        if (running) return running.then((done) => ({ ...done, billedCharacters: 0 }));
        const done = finish(key).finally(() => inFlight.delete(key));
        inFlight.set(key, done);
        return done;
      },
    };
  }

  return {
    keyFor,
    urlFor: (replyText, voiceId) => store.url(keyFor(replyText, voiceId)),
    ensure(replyText, voiceId) {
      const reply = speak(voiceId, { eager: false });
      reply.push(replyText);
      reply.end();
      return reply.store(keyFor(replyText, voiceId));
    },
    speak,
    synthesisState: () => scheduler.state(),
  };
}
