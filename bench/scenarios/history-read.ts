// Scenario 1: GET /api/chat/{id} at each history length, under load (autocannon) and one request at
// a time, with the share of server time spent building audio URLs and the storage requests counted
// at s3rver (the design promises none).
import autocannon from 'autocannon';
import type { BenchContext } from '../context.ts';
import { getSession } from '../http.ts';
import { parseServerTiming, summarize, type Stat } from '../stats.ts';

export interface HistoryReadSize {
  size: number;
  /** Requests per second, one value per autocannon run. */
  reqPerSec: Stat;
  /** autocannon's p50 and p99 latency (ms), one value per run. */
  latencyP50: Stat;
  latencyP99: Stat;
  /** One request at a time (ms): the cost of a single GET without queueing. */
  sequentialMs: Stat;
  /** Server-Timing phases (ms), over every response. */
  dbMs: Stat;
  audioUrlsMs: Stat;
  /** audio-urls / (db + audio-urls): share of the handler's phases. */
  urlShareOfHandler: Stat;
  /** audio-urls / whole request time at the client, one request at a time (includes serialization). */
  urlShareOfRequest: Stat;
  /** Only for the largest size: RSS of the API while it serves it. */
  memory?: { peakBytes: number; rssSampledBytes: Stat; peakResetWorked: boolean };
}

export interface HistoryReadResult {
  sizes: HistoryReadSize[];
  /** Requests s3rver received during the whole scenario. */
  storageRequests: number;
}

export async function historyRead(ctx: BenchContext): Promise<HistoryReadResult> {
  const { api, peers, plan } = ctx;
  peers.s3.resetRequests();
  const largest = Math.max(...plan.sizes);
  const sizes: HistoryReadSize[] = [];

  for (const size of plan.sizes) {
    const id = ctx.historySessions.get(size)!;
    const path = `/api/chat/${id}`;
    ctx.log(`  history read: ${size} messages`);

    // Memory while the largest history is served: sample VmRSS, and VmHWM after a reset.
    let sampler: NodeJS.Timeout | undefined;
    const rssSamples: number[] = [];
    let peakResetWorked = false;
    if (size === largest) {
      peakResetWorked = api.resetPeak();
      sampler = setInterval(() => rssSamples.push(api.memory().rss), 20);
    }

    // One at a time first, on a quiet server: the cost of a single GET without queueing, and the
    // share of it spent on URLs (autocannon's runs leave garbage that would land in these samples).
    const sequential: number[] = [];
    const shareOfRequest: number[] = [];
    for (let i = 0; i < plan.samples; i++) {
      const res = await getSession(api.url, id);
      if (res.body.history.length < size - 1) throw new Error(`session of ${size} returned ${res.body.history.length} messages`);
      sequential.push(res.ms);
      shareOfRequest.push((res.phases['audio-urls'] ?? NaN) / res.ms);
    }

    const db: number[] = [];
    const urls: number[] = [];
    const shareOfHandler: number[] = [];
    const reqPerSec: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    for (let rep = 0; rep < plan.reps; rep++) {
      const result = await autocannon({
        url: api.url,
        connections: plan.connections,
        duration: plan.durationSec,
        requests: [
          {
            method: 'GET',
            path,
            onResponse: (_status, _body, _context, headers) => {
              const phases = parseServerTiming(String(headers['server-timing'] ?? ''));
              const d = phases.db ?? NaN;
              const u = phases['audio-urls'] ?? NaN;
              db.push(d);
              urls.push(u);
              shareOfHandler.push(u / (d + u));
            },
          },
        ],
      });
      if (result.errors || result.timeouts || result.non2xx) {
        throw new Error(`GET ${path}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
      }
      reqPerSec.push(result.requests.total / result.duration);
      p50.push(result.latency.p50);
      p99.push(result.latency.p99);
    }

    let memory: HistoryReadSize['memory'];
    if (sampler) {
      clearInterval(sampler);
      rssSamples.push(api.memory().rss);
      // Without the reset, VmHWM is the process's lifetime peak; then only the samples count.
      const hwm = peakResetWorked ? api.memory().peak : 0;
      memory = { peakBytes: Math.max(hwm, ...rssSamples), rssSampledBytes: summarize(rssSamples), peakResetWorked };
    }

    sizes.push({
      size,
      reqPerSec: summarize(reqPerSec),
      latencyP50: summarize(p50),
      latencyP99: summarize(p99),
      sequentialMs: summarize(sequential),
      dbMs: summarize(db),
      audioUrlsMs: summarize(urls),
      urlShareOfHandler: summarize(shareOfHandler),
      urlShareOfRequest: summarize(shareOfRequest),
      ...(memory ? { memory } : {}),
    });
  }
  return { sizes, storageRequests: peers.s3.requests() };
}
