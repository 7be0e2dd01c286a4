// Scenario 3: the cost of an append as the history grows. Every POST here is an audio cache hit (the
// same question, so the same reply, whose audio the warm-up POST made), and the LLM answers at once,
// so the Server-Timing phase db-append isolates the database write from the history read-back and
// the serialization that the contract's full-history response adds.
import type { BenchContext } from '../context.ts';
import { postMessage, type ChatSession, type TimedResponse } from '../http.ts';
import { summarize, type Stat } from '../stats.ts';

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
  const out: AppendCostSize[] = [];
  for (const size of plan.sizes) {
    const id = ctx.appendSessions.get(size)!;
    ctx.log(`  append: ${size} messages`);
    await postMessage(api.url, id, message); // the first one synthesizes; the rest hit
    const samples: TimedResponse<ChatSession>[] = [];
    for (let i = 0; i < plan.appendPosts; i++) samples.push(await postMessage(api.url, id, message));
    const phase = (name: string) => summarize(samples.map((s) => s.phases[name] ?? NaN));
    out.push({
      size,
      appendMs: phase('db-append'),
      readMs: phase('db-read'),
      historyMs: phase('db-history'),
      audioUrlsMs: phase('audio-urls'),
      totalMs: summarize(samples.map((s) => s.ms)),
    });
  }
  return out;
}
