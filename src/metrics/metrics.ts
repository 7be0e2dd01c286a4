// The Prometheus metrics of one product (GET /metrics). This module alone imports prom-client: the
// rest of the code reports through the narrow Metrics interface, and wiring.ts picks the real one or
// the no-op one (WiringOverrides.metrics = false, for benchmarks).
//
// Every label takes values from a small fixed set, so that the number of series stays bounded
// whatever the traffic: route patterns (never raw URLs), provider and engine names, outcome kinds.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** How an LLM call ended: LlmError's kinds ('failed' is 'error'), and 'cancelled' when its caller stopped reading. */
export type LlmOutcome = 'ok' | 'error' | 'timeout' | 'rate_limited' | 'cancelled';

/** The route label of a request that matched no route (404s, 405s): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface Metrics {
  /** False for the no-op: no instruments, and the app serves no GET /metrics. */
  readonly enabled: boolean;
  /** The exposition's content type (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** Every metric in the Prometheus text format. */
  render(): Promise<string>;
  /** A finished HTTP request: `route` is the pattern (`/api/chat/:session_id`) or UNMATCHED_ROUTE. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** One LLM reply from the provider's call to its last delta or its failure. */
  llmRequest(provider: string, outcome: LlmOutcome, seconds: number): void;
  /** From the provider's call to its first text delta. */
  llmFirstToken(provider: string, seconds: number): void;
  /** The speech cache asked the store whether a reply's audio exists before synthesizing it. */
  speechCacheLookup(result: 'hit' | 'miss'): void;
  /** One synthesis call that returned audio: its characters (what the engine bills) and its time. */
  speechSynthesized(engine: string, characters: number, seconds: number): void;
  /** One synthesis call that failed (after the SDK's own retries, for Polly). */
  speechSynthesisFailed(engine: string): void;
  /** A streamed reply: from the request's start to its first segment of audio. */
  speechFirstAudio(seconds: number): void;
}

// Buckets in seconds, each set spanning what its operation takes, from fast to its time limit.
// HTTP: a history GET takes a few ms, a plain POST (LLM and speech) seconds; a streamed POST lasts as
// long as its reply, so slower ones fall in +Inf.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// A whole LLM reply: about a second for a short one, up to LLM_TIMEOUT_MS (60 s by default).
const LLM_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 45, 60];
// The first token: a few hundred ms from a fast model, seconds from a slow or busy one.
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10, 30];
// One engine call: Polly answers a sentence in about 150 ms and 3,000 characters in seconds; the SDK
// gives up after 60 s. An eSpeak call of 1,200 characters takes about 1.5 s.
const SYNTHESIS_BUCKETS = [0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30, 60];
// The first audio of a streamed reply: the LLM's first sentence plus one synthesis, about half a
// second when all is well; seconds when the model or the engine is slow.
const FIRST_AUDIO_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30];

/**
 * A registry of its own, never prom-client's global one: tests and benchmarks build several
 * products in one process, and each one's counts must be its own.
 */
export function createMetrics(): Metrics {
  const registers = [new Registry()];
  const registry = registers[0]!;
  // The process metrics (CPU, memory, event loop lag, GC, handles). They keep an event-loop delay
  // monitor and a GC observer for the life of the process: one per product, so one in production.
  collectDefaultMetrics({ register: registry });

  const http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests, from their arrival to the end of the response (a streamed reply: its whole stream)',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const llm = new Histogram({
    name: 'llm_request_duration_seconds',
    help: 'LLM replies, from the call to the last delta or the failure',
    labelNames: ['provider', 'outcome'] as const,
    buckets: LLM_BUCKETS,
    registers,
  });
  const firstToken = new Histogram({
    name: 'llm_time_to_first_token_seconds',
    help: 'LLM replies, from the call to the first text delta',
    labelNames: ['provider'] as const,
    buckets: FIRST_TOKEN_BUCKETS,
    registers,
  });
  const lookups = new Counter({
    name: 'speech_cache_lookups_total',
    help: 'Audio store lookups before a complete reply is synthesized: hit (nothing synthesized) or miss',
    labelNames: ['result'] as const,
    registers,
  });
  const characters = new Counter({
    name: 'speech_characters_synthesized_total',
    help: 'Characters of the synthesis calls that returned audio: what the engine bills',
    labelNames: ['engine'] as const,
    registers,
  });
  const synthesis = new Histogram({
    name: 'speech_synthesis_duration_seconds',
    help: 'Synthesis calls that returned audio, one per segment of a reply',
    labelNames: ['engine'] as const,
    buckets: SYNTHESIS_BUCKETS,
    registers,
  });
  const failures = new Counter({
    name: 'speech_synthesis_failures_total',
    help: 'Synthesis calls that failed',
    labelNames: ['engine'] as const,
    registers,
  });
  const firstAudio = new Histogram({
    name: 'speech_time_to_first_audio_seconds',
    help: 'Streamed replies, from the request to the first segment of audio ready to send',
    buckets: FIRST_AUDIO_BUCKETS,
    registers,
  });
  // Both results from the start, so that a hit ratio has a denominator before the first hit.
  lookups.inc({ result: 'hit' }, 0);
  lookups.inc({ result: 'miss' }, 0);

  return {
    enabled: true,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequest(method, route, statusCode, seconds) {
      http.observe({ method, route, status_code: statusCode }, seconds);
    },
    llmRequest(provider, outcome, seconds) {
      llm.observe({ provider, outcome }, seconds);
    },
    llmFirstToken(provider, seconds) {
      firstToken.observe({ provider }, seconds);
    },
    speechCacheLookup(result) {
      lookups.inc({ result });
    },
    speechSynthesized(engine, count, seconds) {
      characters.inc({ engine }, count);
      synthesis.observe({ engine }, seconds);
    },
    speechSynthesisFailed(engine) {
      failures.inc({ engine });
    },
    speechFirstAudio(seconds) {
      firstAudio.observe(seconds);
    },
  };
}

const nothing = () => {};

/** Instrumentation off: every report is dropped, and nothing is collected in the background. */
export const noMetrics: Metrics = {
  enabled: false,
  contentType: 'text/plain; charset=utf-8',
  render: async () => '',
  httpRequest: nothing,
  llmRequest: nothing,
  llmFirstToken: nothing,
  speechCacheLookup: nothing,
  speechSynthesized: nothing,
  speechSynthesisFailed: nothing,
  speechFirstAudio: nothing,
};
