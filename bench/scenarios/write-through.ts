// Scenario 4: the write-through cache on the POST path. A hit costs one storage round trip (the
// HEAD that finds the object) and no synthesis; a miss adds one Polly call and the PUT. A long reply
// is cut into segments (text/segmenter.ts) that are synthesized in parallel, at most 4 at a time for
// one reply, so 9,000 characters should cost far less than 4.5 times what 2,000 cost.
import { POLLY_MAX_BILLED_CHARS } from '../../src/speech/engines/polly/polly-synthesizer.ts';
import { DEFAULT_SPEECH_MAX_CHARS } from '../../src/speech/speech-cache.ts';
import { segmentSpeech } from '../../src/speech/text/segmenter.ts';
import { toSpeechText } from '../../src/speech/text/speech-text.ts';
import type { BenchContext } from '../context.ts';
import { createSession, postMessage, type TimedResponse, type ChatSession } from '../http.ts';
import { pollyLatencyMs } from '../peers.ts';
import { proseReply } from '../replies.ts';
import { summarize, type Stat } from '../stats.ts';

export interface StorageCalls {
  /** S3 requests per POST, as counted by s3rver. */
  requestsPerPost: Stat;
  heads: number;
  puts: number;
  other: number;
  /** SynthesizeSpeech calls over all the POSTs. */
  syntheses: number;
  posts: number;
}

type Counter = Omit<StorageCalls, 'requestsPerPost'> & { perPost: number[] };

export interface ReplyLength {
  speechChars: number;
  segments: number;
  /** Polly's latency for the segments one after another, and 4 at a time (as one reply gets them). */
  pollySerialMs: number;
  pollyParallelMs: number;
  totalMs: Stat;
  speechMs: Stat;
}

export interface WriteThroughResult {
  hit: { totalMs: Stat; speechMs: Stat; storage: StorageCalls };
  miss: { totalMs: Stat; speechMs: Stat; storage: StorageCalls; speechChars: number };
  /** One Polly call's latency for the miss replies. */
  pollyMs: number;
  /** (median miss - median hit) / pollyMs: about 1 when a miss adds one Polly latency. */
  missExtraInPollyLatencies: number;
  short: ReplyLength;
  long: ReplyLength;
  /** long / short, medians of the whole POST. */
  longOverShort: number;
}

export async function writeThrough(ctx: BenchContext): Promise<WriteThroughResult> {
  const { api, peers, plan, round } = ctx;
  const id = await createSession(api.url);

  // Each POST is counted on its own: s3rver's log and Polly's calls are read right after it.
  async function counted(message: string, calls: Counter): Promise<TimedResponse<ChatSession>> {
    peers.s3.resetRequests();
    const synthBefore = peers.polly.synthRequests.length;
    const res = await postMessage(api.url, id, message);
    const log = peers.s3.requestLog();
    calls.heads += log.filter((r) => r.method === 'HEAD').length;
    calls.puts += log.filter((r) => r.method === 'PUT').length;
    calls.other += log.filter((r) => r.method !== 'HEAD' && r.method !== 'PUT').length;
    calls.syntheses += peers.polly.synthRequests.length - synthBefore;
    calls.posts++;
    calls.perPost.push(log.length);
    const last = res.body.history.at(-1);
    if (!last?.audio_url) throw new Error(`POST ${message} returned no audio URL`);
    return res;
  }
  const newCalls = (): Counter => ({ heads: 0, puts: 0, other: 0, syntheses: 0, posts: 0, perPost: [] });

  ctx.log('  write-through: hit and miss');
  const hitMessage = `Write-through round ${round}: the question asked again and again`;
  peers.replies.set(hitMessage, proseReply(`Cached answer of round ${round}`, 300));
  await postMessage(api.url, id, hitMessage); // makes the audio; every later POST of it is a hit

  const hitCalls = newCalls();
  const missCalls = newCalls();
  const hits: TimedResponse<ChatSession>[] = [];
  const misses: TimedResponse<ChatSession>[] = [];
  let missChars = 0;
  for (let i = 0; i < plan.writeThroughPairs; i++) {
    const missMessage = `Write-through round ${round}: new question ${i}`;
    const missReply = proseReply(`New answer ${i} of round ${round}`, 300);
    peers.replies.set(missMessage, missReply);
    missChars = Math.max(missChars, toSpeechText(missReply).length);
    misses.push(await counted(missMessage, missCalls));
    hits.push(await counted(hitMessage, hitCalls));
  }

  ctx.log('  write-through: 2,000 vs 9,000 characters');
  const shortSamples: TimedResponse<ChatSession>[] = [];
  const longSamples: TimedResponse<ChatSession>[] = [];
  const shortReply = (i: number) => proseReply(`Short reply ${i} of round ${round}`, 2000);
  const longReply = (i: number) => proseReply(`Long reply ${i} of round ${round}`, 9000);
  for (let i = 0; i < plan.writeThroughPairs; i++) {
    for (const [reply, into] of [
      [shortReply(i), shortSamples],
      [longReply(i), longSamples],
    ] as const) {
      const message = `Length test ${i} of round ${round}: ${reply.length}`;
      peers.replies.set(message, reply);
      into.push(await postMessage(api.url, id, message));
    }
  }

  const speech = (samples: TimedResponse<ChatSession>[]) => summarize(samples.map((s) => s.phases.speech ?? NaN));
  const total = (samples: TimedResponse<ChatSession>[]) => summarize(samples.map((s) => s.ms));
  const pollyMs = pollyLatencyMs(ctx.pollyLatency, missChars);
  const hitTotal = total(hits);
  const missTotal = total(misses);
  const lengthOf = (reply: string, samples: TimedResponse<ChatSession>[]): ReplyLength => {
    const segments = segmentSpeech(reply, { maxChars: POLLY_MAX_BILLED_CHARS, maxSpeechChars: DEFAULT_SPEECH_MAX_CHARS });
    const latencies = segments.map((p) => pollyLatencyMs(ctx.pollyLatency, p.length));
    // In order, each segment on the first of the reply's 4 slots to free up (the fair scheduler's
    // share of Polly's 8 for one reply).
    const slots = [0, 0, 0, 0];
    for (const latency of latencies) {
      slots.sort((a, b) => a - b);
      slots[0] = slots[0]! + latency;
    }
    return {
      speechChars: segments.reduce((n, p) => n + p.length, 0),
      segments: segments.length,
      pollySerialMs: latencies.reduce((a, b) => a + b, 0),
      pollyParallelMs: Math.max(...slots),
      totalMs: total(samples),
      speechMs: speech(samples),
    };
  };
  const short = lengthOf(shortReply(0), shortSamples);
  const long = lengthOf(longReply(0), longSamples);
  const finish = (c: Counter): StorageCalls => {
    const { perPost, ...rest } = c;
    return { ...rest, requestsPerPost: summarize(perPost) };
  };
  return {
    hit: { totalMs: hitTotal, speechMs: speech(hits), storage: finish(hitCalls) },
    miss: { totalMs: missTotal, speechMs: speech(misses), storage: finish(missCalls), speechChars: missChars },
    pollyMs,
    missExtraInPollyLatencies: (missTotal.median - hitTotal.median) / pollyMs,
    short,
    long,
    longOverShort: long.totalMs.median / short.totalMs.median,
  };
}
