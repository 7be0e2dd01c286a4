// Scenario 10: speech while the reply streams. The Gemini peer streams a 1,500-character reply at a
// fixed rate (about a fast model's speed) and Polly takes its usual latency (150 ms + 0.05 ms per
// character by default). Each sample posts one new reply twice, in two sessions whose voices differ
// (so both are cache misses): once streamed (Accept: text/event-stream), once plain.
//
// Measured at the client, from sending the POST:
// - time to first token (the first `text` event) and to the first sentence (the `text` event that
//   completes it), of the streamed POST;
// - TTFA, time to first audio: the first `audio` event;
// - the plain POST's time to its answer, whose reply has its audio_url;
// - characters billed at the Polly peer for each, by voice.
// Targets: TTFA ≤ first sentence + one Polly call for that sentence + 50 ms; TTFA at least 5× sooner
// than the plain POST; billed characters streamed / plain = 1.00.
//
// Alone: `node --import tsx bench/scenarios/streaming.ts [--samples 10]` (with the peers and an API
// process of its own on a fresh embedded database) prints its figures as JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { startApi, type ApiProcess } from '../api-process.ts';
import { createSession, postMessage, timedRequest } from '../http.ts';
import { pollyLatencyMs, startPeers, VOICE, type Peers, type PollyLatency } from '../peers.ts';
import { proseReply } from '../replies.ts';
import { summarize, type Stat } from '../stats.ts';

export const STREAM_REPLY_CHARS = 1500;
/** About 150 tokens a second (4 characters each), after 300 ms to the first token: a fast model. */
export const STREAM_RATE = { charsPerSecond: 600, firstTokenMs: 300 };
/** The plain POSTs' voice; the streamed ones use the peers' default voice. */
const PLAIN_VOICE = 'Matthew';

export interface StreamingResult {
  replyChars: number;
  rate: typeof STREAM_RATE;
  pollyLatency: PollyLatency;
  samples: number;
  firstTokenMs: Stat;
  firstSentenceMs: Stat;
  ttfaMs: Stat;
  /** Per sample: first sentence + one Polly call for the first segment + 50 ms. */
  budgetMs: Stat;
  /** Samples whose TTFA was within their budget. */
  withinBudget: number;
  /** The streamed POST until `done`. */
  streamDoneMs: Stat;
  /** The plain POST until its answer (with audio_url). */
  plainMs: Stat;
  /** Median plain / median TTFA. */
  speedup: number;
  /** The first segment's length in characters, per sample (its median). */
  firstSegmentChars: number;
  billed: { streamed: number; plain: number; ratio: number };
}

interface StreamTimes {
  firstTokenMs: number;
  firstSentenceMs: number;
  ttfaMs: number;
  doneMs: number;
  firstSegment: string;
  audioUrl: string | null;
}

/** One streamed POST, timed at the client as the events arrive. */
async function timeStream(api: string, sessionId: string, message: string, firstSentence: string): Promise<StreamTimes> {
  const start = performance.now();
  const times: Partial<StreamTimes> = {};
  let text = '';
  let failure: string | undefined;
  const parser = createParser({
    onEvent: ({ event, data }) => {
      const now = performance.now() - start;
      const body = JSON.parse(data) as Record<string, unknown>;
      if (event === 'text') {
        times.firstTokenMs ??= now;
        text += body.delta as string;
        if (times.firstSentenceMs === undefined && text.startsWith(firstSentence)) times.firstSentenceMs = now;
      } else if (event === 'audio' && times.ttfaMs === undefined) {
        times.ttfaMs = now;
        times.firstSegment = body.text as string;
      } else if (event === 'done') {
        times.doneMs = now;
        const history = body.history as Array<{ audio_url: string | null }>;
        times.audioUrl = history.at(-1)?.audio_url ?? null;
      } else if (event === 'error') {
        failure = body.message as string;
      }
    },
  });
  const res = await fetch(`${api}/api/chat/${sessionId}/message`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ message }),
  });
  if (res.status !== 200) throw new Error(`streamed POST answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  if (failure) throw new Error(`streamed POST failed: ${failure}`);
  if (times.ttfaMs === undefined || times.doneMs === undefined || times.firstSentenceMs === undefined) {
    throw new Error('streamed POST ended without audio, done or its first sentence');
  }
  return times as StreamTimes;
}

const billedBy = (peers: Peers, voice: string, from: number) =>
  peers.polly.synthRequests
    .slice(from)
    .filter((r) => r.voiceId === voice && r.status === 200)
    .reduce((n, r) => n + [...r.text].length, 0);

export async function streaming(opts: {
  api: ApiProcess;
  peers: Peers;
  samples: number;
  pollyLatency: PollyLatency;
  log(line: string): void;
}): Promise<StreamingResult> {
  const { api, peers, pollyLatency } = opts;
  const persona = await timedRequest<{ id: string }>(api.url, 'POST', '/api/personas', { name: 'Plain', voice_id: PLAIN_VOICE });
  const streamedSession = await createSession(api.url);
  const plainSession = await createSession(api.url, persona.body.id);

  peers.gemini.setStreamRate(STREAM_RATE);
  const streams: StreamTimes[] = [];
  const plain: number[] = [];
  const budgets: number[] = [];
  let from: number;
  try {
    // Warm-up, not measured: the first streamed POST of a process compiles the route's code paths.
    const warmUp = `streaming warm-up ${Date.now()}`;
    peers.replies.set(warmUp, 'A warm-up reply. It is not measured.');
    await timeStream(api.url, streamedSession, warmUp, 'A warm-up reply.');
    from = peers.polly.synthRequests.length;
    for (let i = 0; i < opts.samples; i++) {
      const message = `streaming sample ${i} ${Date.now()}`;
      const firstSentence = `Here is the streamed answer number ${i} that you asked for.`;
      peers.replies.set(message, proseReply(firstSentence.slice(0, -1), STREAM_REPLY_CHARS));
      const times = await timeStream(api.url, streamedSession, message, firstSentence);
      if (!times.audioUrl) throw new Error('streamed reply stored without audio');
      streams.push(times);
      budgets.push(times.firstSentenceMs + pollyLatencyMs(pollyLatency, [...times.firstSegment].length) + 50);
      const answer = await postMessage(api.url, plainSession, message);
      if (!answer.body.history.at(-1)?.audio_url) throw new Error('plain reply answered without audio');
      plain.push(answer.ms);
    }
  } finally {
    peers.gemini.setStreamRate(undefined);
  }
  const ttfaMs = summarize(streams.map((s) => s.ttfaMs));
  const plainMs = summarize(plain);
  const streamed = billedBy(peers, VOICE, from);
  const plainBilled = billedBy(peers, PLAIN_VOICE, from);
  return {
    replyChars: STREAM_REPLY_CHARS,
    rate: STREAM_RATE,
    pollyLatency,
    samples: opts.samples,
    firstTokenMs: summarize(streams.map((s) => s.firstTokenMs)),
    firstSentenceMs: summarize(streams.map((s) => s.firstSentenceMs)),
    ttfaMs,
    budgetMs: summarize(budgets),
    withinBudget: streams.filter((s, i) => s.ttfaMs <= budgets[i]!).length,
    streamDoneMs: summarize(streams.map((s) => s.doneMs)),
    plainMs,
    speedup: plainMs.median / ttfaMs.median,
    firstSegmentChars: summarize(streams.map((s) => [...s.firstSegment].length)).median,
    billed: { streamed, plain: plainBilled, ratio: streamed / plainBilled },
  };
}

// Run alone: the peers, a fresh embedded database, an API process, the scenario, its figures as JSON.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { samples: { type: 'string' } } });
  const pollyLatency = { baseMs: 150, perCharMs: 0.05 };
  const peers = await startPeers(pollyLatency);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-streaming-'));
  const api = await startApi({ ...peers.apiEnv, DATA_DIR: dataDir });
  try {
    const result = await streaming({ api, peers, samples: Number(values.samples ?? 10), pollyLatency, log: console.error });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await api.stop();
    await peers.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
