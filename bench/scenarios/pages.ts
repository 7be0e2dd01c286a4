// History pages: GET /api/chat/{id}?limit=50 at each history length, one request at a time. The
// contract is that a page costs what its size costs, not what the session's length costs, so the
// figure to watch is the ratio between the longest history and a short one.
import type { BenchContext } from '../context.ts';
import { timedRequest } from '../http.ts';
import { summarize, type Stat } from '../stats.ts';

export const PAGE_LIMIT = 50;
/** At least this many samples per size, whatever the plan: a ratio of medians needs a few. */
const MIN_SAMPLES = 10;
const WARM_UP = 3;

export interface PagesSize {
  size: number;
  /** Messages per page: the limit, or the whole history when it is shorter. */
  messages: number;
  /** One request at a time (ms), at the client. */
  sequentialMs: Stat;
  /** Server-Timing phases (ms). */
  dbMs: Stat;
  audioUrlsMs: Stat;
}

export interface PagesResult {
  limit: number;
  sizes: PagesSize[];
}

interface Page {
  history: Array<{ seq: number }>;
  has_more: boolean;
}

export async function pages(ctx: BenchContext): Promise<PagesResult> {
  const { api, plan } = ctx;
  const samples = Math.max(plan.samples, MIN_SAMPLES);
  const targets = plan.sizes.map((size) => ({ size, path: `/api/chat/${ctx.historySessions.get(size)!}?limit=${PAGE_LIMIT}` }));
  ctx.log(`  pages: ?limit=${PAGE_LIMIT} at ${plan.sizes.join(', ')} messages, ${samples} samples each`);

  const get = async (size: number, path: string) => {
    const res = await timedRequest<Page>(api.url, 'GET', path);
    const seqs = res.body.history.map((m) => m.seq);
    // The seeded sessions hold `size` messages, rounded down to whole exchanges: the page must be
    // their newest ones.
    const stored = size - (size % 2);
    const expected = Math.min(PAGE_LIMIT, stored);
    if (seqs.length !== expected || seqs.at(-1) !== stored || seqs[0] !== stored - expected + 1 || res.body.has_more !== stored > PAGE_LIMIT) {
      throw new Error(`GET ${path} on ${size} messages returned seqs ${seqs[0]}..${seqs.at(-1)} (${seqs.length}), has_more ${res.body.has_more}`);
    }
    return res;
  };
  for (const { size, path } of targets) for (let i = 0; i < WARM_UP; i++) await get(size, path);

  // The sizes take turns, so that a slow patch of the machine lands on all of them alike.
  const ms = targets.map(() => [] as number[]);
  const db = targets.map(() => [] as number[]);
  const urls = targets.map(() => [] as number[]);
  for (let i = 0; i < samples; i++) {
    for (const [t, { size, path }] of targets.entries()) {
      const res = await get(size, path);
      ms[t]!.push(res.ms);
      db[t]!.push(res.phases.db ?? NaN);
      urls[t]!.push(res.phases['audio-urls'] ?? NaN);
    }
  }
  return {
    limit: PAGE_LIMIT,
    sizes: targets.map(({ size }, t) => ({
      size,
      messages: Math.min(PAGE_LIMIT, size - (size % 2)),
      sequentialMs: summarize(ms[t]!),
      dbMs: summarize(db[t]!),
      audioUrlsMs: summarize(urls[t]!),
    })),
  };
}
