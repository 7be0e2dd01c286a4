// What every scenario receives: the running API, its peers, the sessions seeded for it and the plan
// (sizes, durations and sample counts, all set by flags).
import type { ApiProcess } from './api-process.ts';
import type { Peers, PollyLatency } from './peers.ts';

export interface Plan {
  /** History lengths in messages. */
  sizes: number[];
  /** Seconds of load per autocannon run. */
  durationSec: number;
  /** autocannon runs per size. */
  reps: number;
  connections: number;
  /** Sequential GETs per size (scenario 1), and our-design/naive pairs per size (scenario 2). */
  samples: number;
  /** Scenario 2 stops sampling a size after this many seconds (at least 3 pairs). */
  naiveBudgetSec: number;
  /** POSTs per size in the append scenario. */
  appendPosts: number;
  /** Hit/miss pairs, and 2,000/9,000-character pairs, in the write-through scenario. */
  writeThroughPairs: number;
  /** Concurrent POSTs that produce one reply. */
  concurrentPosts: number;
  /** Replies in the cost scenario (half of them repeats). */
  costReplies: number;
  /** Clients posting at once in the cost scenario. */
  costWorkers: number;
  /** One-at-a-time GETs per credential in the auth scenario (its autocannon runs use reps, durationSec, connections). */
  authSamples: number;
}

export interface BenchContext {
  api: ApiProcess;
  peers: Peers;
  plan: Plan;
  /** 1-based; texts include it so that no round hits audio made by an earlier one. */
  round: number;
  pollyLatency: PollyLatency;
  /** Read-only sessions by length (scenarios 1 and 2). */
  historySessions: Map<number, string>;
  /** Sessions by length for this round's appends (scenario 3). */
  appendSessions: Map<number, string>;
  log(line: string): void;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
