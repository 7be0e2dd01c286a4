import { describe, expect, it } from 'vitest';
import { mapBounded } from './bounded.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('mapBounded', () => {
  it('keeps the input order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      for (let i = 0; i < n; i++) await tick();
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it('starts nothing new after an abort, and lets the calls in flight finish', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const out = await mapBounded(
      [1, 2, 3, 4, 5],
      1,
      async (n) => {
        started.push(n);
        if (n === 2) controller.abort();
        await tick();
        return n;
      },
      controller.signal,
    );
    expect(started).toEqual([1, 2]);
    expect(out.slice(0, 2)).toEqual([1, 2]);
    expect(out[2]).toBeUndefined();
  });

  it('handles an empty list', async () => {
    expect(await mapBounded([], 4, async () => 1)).toEqual([]);
  });
});
