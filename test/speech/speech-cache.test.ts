// The speech cache with the real Polly synthesizer (through the SDK, against the loopback Polly
// server) and the file store: what it sends, what it bills, and what a retry after a failure costs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { SpeechError } from '../../src/errors.ts';
import { createPollySynthesizer } from '../../src/speech/engines/polly/polly-synthesizer.ts';
import { createFairScheduler } from '../../src/speech/fair-scheduler.ts';
import { joinMp3 } from '../../src/speech/mp3.ts';
import { createSpeechCache, type SpeechCacheDeps } from '../../src/speech/speech-cache.ts';
import { CUT_NOTE } from '../../src/speech/text/cap-speech.ts';
import { segmentSpeech } from '../../src/speech/text/segmenter.ts';
import { createFileAudioStore, type FileAudioStore } from '../../src/storage/file-audio-store.ts';
import { usePollyServer } from '../support/polly-fixture.ts';
import { fakeSpeechMp3 } from '../support/polly-server.ts';

const polly = usePollyServer();
let dir: string;
let store: FileAudioStore;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'speech-cache-'));
  store = createFileAudioStore({ dir });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Plain prose of `sentences` distinct sentences of about 70 characters; `tag` makes replies distinct. */
const prose = (tag: string, sentences: number) =>
  Array.from({ length: sentences }, (_, i) => `${tag} sentence number ${i} of this answer goes on for a little while.`).join(' ');

function cache(deps: Partial<SpeechCacheDeps> = {}) {
  const synthesizer = createPollySynthesizer({ client: polly.client, engine: 'neural' });
  return createSpeechCache({ synthesizer, store, keyPrefix: 'polly-neural-mp3/', ...deps });
}

/** Successful SynthesizeSpeech calls per text. */
function successesByText(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of polly.server.synthRequests) if (r.status === 200) counts.set(r.text, (counts.get(r.text) ?? 0) + 1);
  return counts;
}

describe('SPEECH_MAX_CHARS', () => {
  it('caps the characters billed for one reply, ends the audio with the note, and keys the whole reply', async () => {
    const speech = cache({ maxSpeechChars: 5000 });
    const reply = prose('Capped', 170); // about 11,000 characters
    const done = await speech.ensure(reply, 'Joanna');

    const requests = polly.server.synthRequests;
    expect(requests.every((r) => r.status === 200 && r.text.length <= 3000)).toBe(true);
    expect(polly.server.billedCharacters).toBe(done.billedCharacters);
    expect(done.billedCharacters).toBeLessThanOrEqual(5000);
    expect(done.billedCharacters).toBeGreaterThan(4000); // cut near the limit, not far before it
    expect(requests[0]!.text.startsWith('Capped sentence number 0 ')).toBe(true);
    const last = requests.at(-1)!.text;
    expect(last.endsWith(`while. ${CUT_NOTE}`)).toBe(true); // at a sentence end, then the note
    expect(done.key).toBe(speech.keyFor(reply, 'Joanna'));
    expect(store.pathOf(done.key)).toContain(done.key);
  });

  it('leaves a reply within the cap whole, without the note', async () => {
    const reply = prose('Whole', 60); // about 3,900 characters
    await cache({ maxSpeechChars: 5000 }).ensure(reply, 'Joanna');
    const texts = polly.server.synthRequests.map((r) => r.text);
    expect(texts.join(' ')).toBe(reply);
    expect(texts.some((t) => t.includes(CUT_NOTE))).toBe(false);
    expect(polly.server.billedCharacters).toBe(texts.reduce((n, t) => n + t.length, 0));
  });

  it('bills no more than the cap for a reply hundreds of times longer', async () => {
    const reply = prose('Huge', 15_000); // about 1,000,000 characters: only its start is even parsed
    const done = await cache({ maxSpeechChars: 5000 }).ensure(reply, 'Matthew');
    expect(polly.server.billedCharacters).toBe(done.billedCharacters);
    expect(done.billedCharacters).toBeLessThanOrEqual(5000);
    expect(done.billedCharacters).toBeGreaterThan(4000);
    expect(polly.server.synthRequests.at(-1)!.text.endsWith(` ${CUT_NOTE}`)).toBe(true);
  });

  it('is read from the environment, 20,000 by default, and a bad value names the variable', () => {
    expect(parseConfig({}).speechMaxChars).toBe(20_000);
    expect(parseConfig({ SPEECH_MAX_CHARS: '3000' }).speechMaxChars).toBe(3000);
    for (const bad of ['99', '12.5', 'lots']) {
      expect(() => parseConfig({ SPEECH_MAX_CHARS: bad })).toThrow(/SPEECH_MAX_CHARS/);
    }
  });
});

describe('a reply whose piece fails', () => {
  it('starts none of its remaining pieces, and its retry bills only what was not synthesized', async () => {
    // Capacity 8 and 4 per reply, as for Polly; the test watches what is running and waiting.
    const scheduler = createFairScheduler({ capacity: 8 });
    const speech = cache({ scheduler, maxSpeechChars: 100_000 });
    const reply = prose('Retried', 300); // about 20,000 characters in some 24 segments, 4 in flight at once
    const pieces = segmentSpeech(reply, { maxChars: 3000, maxSpeechChars: 100_000 }).length;
    expect(pieces).toBeGreaterThanOrEqual(7);
    const isFirst = (text: string) => text.startsWith('Retried sentence number 0 ');
    const stopFailing = polly.server.failWhere((r) => isFirst(r.text), 'failure');
    const others = polly.server.hold((r) => !isFirst(r.text));

    const attempt = speech.ensure(reply, 'Joanna');
    attempt.catch(() => {}); // asserted below
    // The first piece fails for good (after the SDK's retries); the three others stay in flight,
    // and the reply's three pieces that were waiting are dropped.
    await vi.waitFor(() => {
      expect(others.waiting).toBe(3);
      expect(scheduler.state()).toEqual({ running: 3, waiting: 0, flows: 1 });
    });
    others.release();
    await expect(attempt).rejects.toBeInstanceOf(SpeechError);

    const firstTry = [...polly.server.synthRequests];
    const pieceTexts = new Set(firstTry.map((r) => r.text));
    expect(pieceTexts.size).toBe(4); // pieces 1-4; the others never started
    expect(firstTry.filter((r) => r.status === 200)).toHaveLength(3);
    expect(firstTry.filter((r) => isFirst(r.text)).every((r) => r.status === 500)).toBe(true);

    stopFailing();
    const retry = await speech.ensure(reply, 'Joanna');
    expect(retry.outcome).toBe('synthesized');

    // Every piece was synthesized successfully exactly once over both attempts.
    const successes = successesByText();
    expect(successes.size).toBe(pieces);
    expect([...successes.values()].every((n) => n === 1)).toBe(true);
    const allPieces = polly.server.synthRequests.filter((r) => r.status === 200).map((r) => r.text);
    const billedBefore = firstTry.filter((r) => r.status === 200).reduce((n, r) => n + r.text.length, 0);
    expect(retry.billedCharacters).toBe(allPieces.reduce((n, t) => n + t.length, 0) - billedBefore);
    expect(polly.server.billedCharacters).toBe(allPieces.reduce((n, t) => n + t.length, 0));

    // The stored audio has every piece, in the reply's order, whichever attempt made it.
    const inOrder = [...allPieces].sort((a, b) => reply.indexOf(a) - reply.indexOf(b));
    expect(inOrder.join(' ')).toBe(reply);
    const stored = new Uint8Array(readFileSync(store.pathOf(retry.key)));
    expect(Buffer.from(stored).equals(Buffer.from(joinMp3(inOrder.map(fakeSpeechMp3))))).toBe(true);
  });

  it('keeps a fully synthesized reply whose upload failed, so the retry bills nothing', async () => {
    let failPut = true;
    const flaky: FileAudioStore = {
      ...store,
      put: (key, mp3) => {
        if (!failPut) return store.put(key, mp3);
        failPut = false;
        return Promise.reject(new Error('disk full'));
      },
    };
    const speech = cache({ store: flaky });
    const reply = prose('Unstored', 100);
    await expect(speech.ensure(reply, 'Joanna')).rejects.toThrow('disk full');
    const billed = polly.server.billedCharacters;
    expect(billed).toBeGreaterThan(6000);

    const retry = await speech.ensure(reply, 'Joanna');
    expect(retry).toMatchObject({ outcome: 'synthesized', billedCharacters: 0 });
    expect(polly.server.billedCharacters).toBe(billed);
  });
});

describe('a reply voiced while its text arrives (speak)', () => {
  const reply = prose('Streamed', 12); // about 850 characters: several segments
  const segments = segmentSpeech(reply, { maxChars: 3000, maxSpeechChars: 20_000 });
  /** The reply in small deltas, as an LLM streams it. */
  const deltas = (text: string) => text.match(/[\s\S]{1,17}/g)!;

  it('synthesizes each segment as it is cut and hands them over in order, whichever finishes first', async () => {
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const speech = cache();
    const first = polly.server.hold((r) => r.text === segments[0]);
    const delivered: number[] = [];
    const voice = speech.speak('Joanna', { eager: true, onSegment: (s) => delivered.push(s.index) });
    for (const delta of deltas(reply)) voice.push(delta);
    voice.end();
    // The later segments are answered while the first is held; none is handed over before it.
    await vi.waitFor(() => expect(polly.server.synthRequests.filter((r) => r.status === 200)).toHaveLength(segments.length - 1));
    expect(delivered).toEqual([]);
    first.release();
    const done = await voice.store(speech.keyFor(reply, 'Joanna'));
    expect(delivered).toEqual(segments.map((_, i) => i));
    expect(polly.server.synthRequests.map((r) => r.text).sort()).toEqual([...segments].sort());
    expect(done).toMatchObject({ outcome: 'synthesized', billedCharacters: segments.join('').length });
    const stored = new Uint8Array(readFileSync(store.pathOf(done.key)));
    expect(Buffer.from(stored).equals(Buffer.from(joinMp3(segments.map(fakeSpeechMp3))))).toBe(true);
  });

  it('stores nothing more when the key exists already, though a streamed reply has paid for its segments', async () => {
    const puts: string[] = [];
    const counting: FileAudioStore = { ...store, put: (key, mp3) => (puts.push(key), store.put(key, mp3)) };
    const speech = cache({ store: counting });
    const text = prose('Twice', 4);
    await speech.ensure(text, 'Joanna');
    expect(puts).toHaveLength(1);
    const billed = polly.server.billedCharacters;

    // The plain path asks the store first and pays nothing ...
    expect(await speech.ensure(text, 'Joanna')).toMatchObject({ outcome: 'hit', billedCharacters: 0 });
    expect(polly.server.billedCharacters).toBe(billed);
    // ... the streamed path synthesized before the key was known, and only skips the upload.
    const voice = speech.speak('Joanna', { eager: true });
    voice.push(text);
    voice.end();
    const again = await voice.store(speech.keyFor(text, 'Joanna'));
    expect(again.billedCharacters).toBe(polly.server.billedCharacters - billed);
    expect(again.billedCharacters).toBeGreaterThan(0);
    expect(puts).toHaveLength(1);
  });

  it('starts no further segment once abandoned (the LLM failed), and hands nothing more over', async () => {
    const speech = cache({ scheduler: createFairScheduler({ capacity: 1 }) });
    const first = polly.server.hold((r) => r.text === segments[0]);
    const outcomes: Array<{ index: number; ok: boolean }> = [];
    const voice = speech.speak('Joanna', { eager: true, onSegment: (s) => outcomes.push({ index: s.index, ok: s.mp3 !== null }) });
    for (const delta of deltas(reply)) voice.push(delta);
    await vi.waitFor(() => expect(first.waiting).toBe(1));
    voice.abandon();
    first.release();
    await vi.waitFor(() => expect(polly.server.synthRequests.map((r) => r.status)).toEqual([200]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Only the segment already at Polly was sent, and its reply's listener is gone.
    expect(polly.server.synthRequests.map((r) => r.text)).toEqual([segments[0]]);
    expect(outcomes).toEqual([]);
  });
});
