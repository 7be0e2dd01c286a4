// Scenario 2, the road not taken: a design that asks storage whether each reply's audio exists
// before it hands out the URL. It exists only here, in the benchmark: the history is read through
// our API, then one HeadObject per model message goes to s3rver through the real SDK, all at once
// (Promise.all, bounded only by the SDK's socket pool), as a naive server would do before answering.
// Both designs are timed alternately, one request at a time, so they share the machine's noise.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { BenchContext } from '../context.ts';
import { getSession } from '../http.ts';
import { VOICE } from '../peers.ts';
import { keyOf } from '../seed.ts';
import { summarize, type Stat } from '../stats.ts';

export interface NaiveReadSize {
  size: number;
  oursMs: Stat;
  naiveMs: Stat;
  /** naive median / our median. */
  speedup: number;
  headsPerRead: number;
  /** HEADs that found the object (the seeded audio exists, so all of them should). */
  found: number;
}

export async function naiveRead(ctx: BenchContext): Promise<NaiveReadSize[]> {
  const { api, peers, plan } = ctx;
  const out: NaiveReadSize[] = [];
  for (const size of plan.sizes) {
    const id = ctx.historySessions.get(size)!;
    ctx.log(`  road not taken: ${size} messages`);
    const ours: number[] = [];
    const naive: number[] = [];
    let heads = 0;
    let found = 0;
    const started = performance.now();
    for (let i = 0; i < plan.samples; i++) {
      if (i >= 3 && performance.now() - started > plan.naiveBudgetSec * 1000) break;
      ours.push((await getSession(api.url, id)).ms);

      // The naive read: the same GET, then the HEADs (the client parsing the body is not counted).
      const { body, ms: getMs } = await getSession(api.url, id);
      const headsStart = performance.now();
      const voice = body.voice_id;
      if (voice !== VOICE) throw new Error(`unexpected voice ${voice}`);
      const replies = body.history.filter((m) => m.role === 'model');
      const exists = await Promise.all(
        replies.map((m) =>
          peers.s3Client.send(new HeadObjectCommand({ Bucket: peers.s3.bucket, Key: keyOf(m.content) })).then(
            () => true,
            (err: { name?: string }) => {
              if (err.name === 'NotFound') return false;
              throw err;
            },
          ),
        ),
      );
      naive.push(getMs + performance.now() - headsStart);
      heads = replies.length;
      found = exists.filter(Boolean).length;
    }
    const oursMs = summarize(ours);
    const naiveMs = summarize(naive);
    out.push({ size, oursMs, naiveMs, speedup: naiveMs.median / oursMs.median, headsPerRead: heads, found });
  }
  return out;
}
