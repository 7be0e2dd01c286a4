// Scenario 3: the cost of an append as the history grows. Every POST here is an audio cache hit (the
// same question, so the same reply, whose audio the warm-up POST made), and the LLM answers at once,
// so the Server-Timing phase db-append isolates the database write from the history read-back and
// the serialization that the contract's full-history response adds.
import type { BenchContext } from '../context.ts';
import { postMessage, type ChatSession, type TimedResponse } from '../http.ts';
import { seededRandom, shuffled, summarize, type Stat } from '../stats.ts';

export interface AppendCostSize {
  size: number;
  /** The append transaction (Server-Timing db-append), ms. */
  appendMs: Stat;
  /** Reading the session and recent turns before the LLM call. */
  readMs: Stat;
  /** Reading the whole history back for the response. */
  historyMs: Stat;
  audioUrlsMs: Stat;
  /** The whole POST at the client, ms. */
  totalMs: Stat;
}

export async function appendCost(ctx: BenchContext): Promise<AppendCostSize[]> {
  const { api, plan } = ctx;
  const message = `Append benchmark, round ${ctx.round}: what is the weather like today?`;
  // Sizes take turns, POST by POST, in a shuffled order each turn, so that each size meets the same
  // heap and cache state: a POST to a long session leaves garbage behind, and collecting it must not
  // always land on the size that comes next.
  const samples = new Map<number, TimedResponse<ChatSession>[]>(plan.sizes.map((size) => [size, []]));
  ctx.log(`  append: ${plan.sizes.join(', ')} messages, taking turns`);
  for (const size of plan.sizes) await postMessage(api.url, ctx.appendSessions.get(size)!, message); // the first one synthesizes
  const random = seededRandom(ctx.round);
  for (let i = 0; i < plan.appendPosts; i++) {
    const order = shuffled(plan.sizes, random);
    for (const size of order) samples.get(size)!.push(await postMessage(api.url, ctx.appendSessions.get(size)!, message));
  }
  const out: AppendCostSize[] = plan.sizes.map((size) => {
    const runs = samples.get(size)!;
    const phase = (name: string) => summarize(runs.map((s) => s.phases[name] ?? NaN));
    return {
      size,
      appendMs: phase('db-append'),
      readMs: phase('db-read'),
      historyMs: phase('db-history'),
      audioUrlsMs: phase('audio-urls'),
      totalMs: summarize(runs.map((s) => s.ms)),
    };
  });
  return out;
}
