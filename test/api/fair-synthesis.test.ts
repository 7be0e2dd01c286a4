// One long reply cannot starve the others: through HTTP, with Polly (the loopback Polly server
// holding the long reply's calls), s3rver and Gemini scripted per message. What is asserted is order
// and state, never time: speed belongs to the benchmark (bench/scenarios/fairness.ts).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { segmentSpeech } from '../../src/speech/text/segmenter.ts';
import { lastUserText, startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
let t: TestApp;

/** Distinct sentences with `word` in each, so that every piece of the reply can be told apart. */
function prose(word: string, chars: number): string {
  let text = '';
  for (let i = 0; ; i++) {
    const next = `${text}${text ? ' ' : ''}This ${word} sentence, number ${i}, is here to be read aloud.`;
    if (next.length > chars) return text;
    text = next;
  }
}
const LONG = prose('lengthy', 20_000);
const SHORT = prose('brief', 300);
/** The Gemini server's reply to each user message. */
const REPLIES: Record<string, string> = {
  'the long one': LONG,
  'the short one': SHORT,
  'a wordy one': prose('wordy', 20_000),
  'a verbose one': prose('verbose', 20_000),
  'a concise one': prose('concise', 300),
};

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
  gemini.setReply((body) => REPLIES[lastUserText(body)] ?? 'Unscripted.');
  // Long replies in few chunks: this file is about synthesis, and waits for a reply's pieces briefly.
  gemini.setChunkChars(2000);
  t = await startTestApp(awsTestEnv({ s3, polly, gemini }));
});
afterAll(async () => {
  polly?.reset(); // lets anything still held go, so the app can close
  await t?.close();
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
});

async function session(): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: {} });
  expect(res.statusCode).toBe(201);
  return res.json().session_id as string;
}
async function send(id: string, message: string) {
  const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  expect(res.statusCode).toBe(200);
  return res.json().history.at(-1) as { role: string; content: string; audio_url: string | null };
}

describe('fair synthesis between replies', () => {
  it("synthesizes a short reply in another session while a 20,000-character reply's pieces are in flight", async () => {
    const [longSession, shortSession] = await Promise.all([session(), session()]);
    const isLong = (text: string) => text.includes('lengthy');
    const held = polly.hold((r) => isLong(r.text));

    let longAnswered = false;
    const longPost = send(longSession, 'the long one').finally(() => {
      longAnswered = true;
    });
    // Polly's capacity is 8 calls, and one reply may have at most half of them in flight.
    await vi.waitFor(() => expect(held.waiting).toBe(4));

    const short = await send(shortSession, 'the short one');

    expect(short.content).toBe(SHORT);
    expect(short.audio_url).not.toBeNull();
    expect(longAnswered).toBe(false);
    expect(held.waiting).toBe(4);
    const requests = polly.synthRequests;
    const shortCalls = requests.filter((r) => r.text.includes('brief'));
    // Its segments (a short first sentence, then longer ones), all answered.
    expect(shortCalls.map((r) => r.text).join(' ')).toBe(SHORT);
    expect(shortCalls.every((r) => r.status === 200)).toBe(true);
    // It reached Polly after the long reply's first pieces, and while all of them were still held.
    const longSoFar = requests.filter((r) => isLong(r.text));
    expect(longSoFar).toHaveLength(4);
    expect(longSoFar.every((r) => r.status === 0)).toBe(true);
    expect(requests.indexOf(shortCalls[0]!)).toBeGreaterThan(requests.indexOf(longSoFar[3]!));

    held.release();
    const long = await longPost;
    expect(long.content).toBe(LONG);
    expect(long.audio_url).not.toBeNull();
    const longCalls = polly.synthRequests.filter((r) => isLong(r.text));
    expect(longCalls.length).toBeGreaterThanOrEqual(7);
    expect(longCalls.every((r) => r.status === 200)).toBe(true);
    expect(longCalls.map((r) => r.text).join(' ')).toBe(LONG);
    expect(polly.peakConcurrency).toBeLessThanOrEqual(8);
  });

  it("keeps to Polly's 8 calls when two long replies want more, and gives the next free slot to a newcomer", async () => {
    polly.reset();
    const speech = t.product.speech;
    const [wordy, verbose, concise] = await Promise.all([session(), session(), session()]);
    const isLong = (text: string) => text.includes('wordy') || text.includes('verbose');
    const held = polly.hold((r) => isLong(r.text));

    const longPosts = [send(wordy, 'a wordy one'), send(verbose, 'a verbose one')];
    await vi.waitFor(() => expect(held.waiting).toBe(8));
    const pieces = (word: string) => polly.synthRequests.filter((r) => r.text.includes(word));
    expect(pieces('wordy')).toHaveLength(4);
    expect(pieces('verbose')).toHaveLength(4);
    const queuedLong = speech.synthesisState!().waiting;
    expect(queuedLong).toBeGreaterThanOrEqual(6); // the two replies' other pieces

    const shortPost = send(concise, 'a concise one');
    const shortSegments = segmentSpeech(REPLIES['a concise one']!, { maxChars: 3000, maxSpeechChars: 20_000 }).length;
    expect(shortSegments).toBeGreaterThan(1);
    // Every slot is taken: the short reply waits in the scheduler, not at Polly.
    await vi.waitFor(() => expect(speech.synthesisState!()).toEqual({ running: 8, waiting: queuedLong + shortSegments, flows: 3 }));
    expect(pieces('concise')).toHaveLength(0);

    // One long piece ends: its slot goes to the newcomer, ahead of the long replies' remaining pieces,
    // and keeps going to it (the flow with fewest calls running) until its segments are done.
    held.release(1);
    const short = await shortPost;
    expect(short.audio_url).not.toBeNull();
    expect(pieces('concise').map((r) => r.status)).toEqual(Array(shortSegments).fill(200));
    expect(polly.synthRequests.indexOf(pieces('concise')[0]!)).toBe(8);
    // Only the one released long piece has been answered; the rest are still held.
    expect(polly.synthRequests.filter((r) => isLong(r.text) && r.status === 200)).toHaveLength(1);

    held.release();
    const long = await Promise.all(longPosts);
    expect(long.every((m) => m.audio_url !== null)).toBe(true);
    expect(polly.peakConcurrency).toBe(8);
    expect(speech.synthesisState!()).toEqual({ running: 0, waiting: 0, flows: 0 });
  });
});
