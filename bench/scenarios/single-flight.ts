// Scenario 5: what the audio costs. Concurrent POSTs that produce one reply share one synthesis
// (single-flight), and over many replies with repeats, Polly bills exactly the characters of the
// distinct speech texts: repeats are cache hits, and markdown and code are never sent.
import { POLLY_MAX_BILLED_CHARS } from '../../src/speech/engines/polly/polly-synthesizer.ts';
import { DEFAULT_SPEECH_MAX_CHARS } from '../../src/speech/speech-cache.ts';
import { segmentSpeech } from '../../src/speech/text/segmenter.ts';
import type { BenchContext } from '../context.ts';
import { createSession, postMessage } from '../http.ts';
import { markdownReply, proseReply } from '../replies.ts';
import { seededRandom, shuffled, summarize, type Stat } from '../stats.ts';

export interface SingleFlightResult {
  posts: number;
  pollyCalls: number;
  storagePuts: number;
  storageHeads: number;
  distinctAudioUrls: number;
  totalMs: Stat;
}

export interface CostResult {
  replies: number;
  distinctReplies: number;
  /** Characters Polly billed during the scenario (counted by the Polly server). */
  billedChars: number;
  /** Characters of the distinct replies' speech texts, split as the product splits them. */
  minimumChars: number;
  billedOverMinimum: number;
  /** Characters of the distinct replies as the LLM wrote them (markdown and code included). */
  rawChars: number;
  /** What a design without the cache would bill: the speech of every reply, repeats included. */
  uncachedChars: number;
  pollyCalls: number;
  totalMs: Stat;
}

export async function singleFlight(ctx: BenchContext): Promise<SingleFlightResult> {
  const { api, peers, plan, round } = ctx;
  ctx.log(`  single-flight: ${plan.concurrentPosts} concurrent POSTs`);
  const ids = await Promise.all(Array.from({ length: plan.concurrentPosts }, () => createSession(api.url)));
  const message = `Single-flight round ${round}: everyone asks the same thing`;
  peers.replies.set(message, proseReply(`The one shared answer of round ${round}`, 600));

  const before = peers.polly.synthRequests.length;
  peers.s3.resetRequests();
  const results = await Promise.all(ids.map((id) => postMessage(api.url, id, message)));
  const log = peers.s3.requestLog();
  return {
    posts: results.length,
    pollyCalls: peers.polly.synthRequests.length - before,
    storagePuts: log.filter((r) => r.method === 'PUT').length,
    storageHeads: log.filter((r) => r.method === 'HEAD').length,
    distinctAudioUrls: new Set(results.map((r) => r.body.history.at(-1)?.audio_url)).size,
    totalMs: summarize(results.map((r) => r.ms)),
  };
}

export async function cost(ctx: BenchContext): Promise<CostResult> {
  const { api, peers, plan, round } = ctx;
  const distinct = Math.floor(plan.costReplies / 2);
  ctx.log(`  cost: ${distinct * 2} replies, ${distinct} distinct`);
  const texts = Array.from({ length: distinct }, (_, k) => markdownReply(`Cost reply ${k} of round ${round}`));
  const messageOf = (k: number) => `Cost round ${round}, question ${k}`;
  texts.forEach((text, k) => peers.replies.set(messageOf(k), text));

  // Each distinct reply twice, in a shuffled order, posted by several clients at once.
  const queue = shuffled([...texts.keys(), ...texts.keys()], seededRandom(round));
  const sessions = await Promise.all(Array.from({ length: plan.costWorkers }, () => createSession(api.url)));

  const billedBefore = peers.polly.billedCharacters;
  const callsBefore = peers.polly.synthRequests.length;
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    sessions.map(async (id) => {
      while (next < queue.length) {
        const k = queue[next++]!;
        latencies.push((await postMessage(api.url, id, messageOf(k))).ms);
      }
    }),
  );

  const spokenChars = (reply: string) =>
    segmentSpeech(reply, { maxChars: POLLY_MAX_BILLED_CHARS, maxSpeechChars: DEFAULT_SPEECH_MAX_CHARS }).reduce((n, p) => n + [...p].length, 0);
  const minimumChars = texts.reduce((n, t) => n + spokenChars(t), 0);
  const billedChars = peers.polly.billedCharacters - billedBefore;
  return {
    replies: queue.length,
    distinctReplies: distinct,
    billedChars,
    minimumChars,
    billedOverMinimum: billedChars / minimumChars,
    rawChars: texts.reduce((n, t) => n + [...t].length, 0),
    uncachedChars: queue.reduce((n, k) => n + spokenChars(texts[k]!), 0),
    pollyCalls: peers.polly.synthRequests.length - callsBefore,
    totalMs: summarize(latencies),
  };
}
