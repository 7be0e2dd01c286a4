// Medians with their spread. The machines are noisy, so every figure the benchmarks report is a
// distribution summarized this way, and comparisons are ratios of medians taken in the same run.

export interface Stat {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  n: number;
}

/** Summarizes samples; NaN everywhere when there are none. */
export function summarize(values: readonly number[]): Stat {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: NaN, p25: NaN, p75: NaN, min: NaN, max: NaN, n: 0 };
  return {
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0]!,
    max: sorted[n - 1]!,
    n,
  };
}

/** Linear interpolation between closest ranks (the usual "type 7" quantile). */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Ratio of the medians a / b. */
export function medianRatio(a: Stat, b: Stat): number {
  return a.median / b.median;
}

/** Reads a `Server-Timing` header ("db;dur=1.2, audio-urls;dur=0.3") into milliseconds per phase. */
export function parseServerTiming(header: string | null | undefined): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const entry of (header ?? '').split(',')) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => /^\s*dur=([\d.]+)\s*$/.exec(p)?.[1]).find((d) => d !== undefined);
    if (name && dur !== undefined) phases[name] = Number(dur);
  }
  return phases;
}

/** A deterministic PRNG (mulberry32), so every run generates the same texts and orders. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher–Yates) driven by `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
