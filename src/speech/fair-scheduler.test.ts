import { describe, expect, it } from 'vitest';
import { createFairScheduler } from './fair-scheduler.ts';

/** A scheduler whose tasks finish only when the test says so, recording the order they start in. */
function harness(capacity: number, perFlow?: number) {
  const scheduler = createFairScheduler({ capacity, ...(perFlow === undefined ? {} : { perFlow }) });
  const started: string[] = [];
  const finishers = new Map<string, { resolve(): void; reject(err: Error): void }>();
  const results = new Map<string, Promise<string>>();
  const add = (flow: string, name: string, signal?: AbortSignal) => {
    const result = scheduler.run(
      flow,
      () =>
        new Promise<string>((resolve, reject) => {
          started.push(name);
          finishers.set(name, { resolve: () => resolve(name), reject });
        }),
      signal,
    );
    result.catch(() => {}); // asserted where it matters
    results.set(name, result);
    return result;
  };
  const finish = async (name: string) => {
    finishers.get(name)!.resolve();
    await results.get(name);
    await flush();
  };
  return { scheduler, started, add, finish, finishers, results };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createFairScheduler', () => {
  it('gives a newcomer a free slot while a long flow is capped below the capacity', async () => {
    const h = harness(2); // perFlow 1
    for (let i = 1; i <= 5; i++) h.add('long', `L${i}`);
    await flush();
    expect(h.started).toEqual(['L1']);
    h.add('short', 'S1');
    await flush();
    expect(h.started).toEqual(['L1', 'S1']);
    expect(h.scheduler.state()).toEqual({ running: 2, waiting: 4, flows: 2 });
  });

  it('with one slot, serves a newcomer before the long flow’s next piece, then takes turns', async () => {
    const h = harness(1);
    for (let i = 1; i <= 3; i++) h.add('a', `A${i}`);
    await flush();
    h.add('b', 'B1');
    h.add('b', 'B2');
    h.add('c', 'C1');
    for (const name of ['A1', 'B1', 'C1', 'A2', 'B2', 'A3']) {
      expect(h.started.at(-1)).toBe(name);
      await h.finish(name);
    }
    expect(h.started).toEqual(['A1', 'B1', 'C1', 'A2', 'B2', 'A3']);
    expect(h.scheduler.state()).toEqual({ running: 0, waiting: 0, flows: 0 });
  });

  it('picks the flow with the fewest calls in flight', async () => {
    const h = harness(4); // perFlow 2
    for (let i = 1; i <= 4; i++) h.add('a', `A${i}`);
    for (let i = 1; i <= 4; i++) h.add('b', `B${i}`);
    await flush();
    expect(h.started).toEqual(['A1', 'A2', 'B1', 'B2']);
    h.add('c', 'C1');
    await h.finish('A1'); // a: 1 in flight, b: 2, c: 0: c goes first
    expect(h.started.at(-1)).toBe('C1');
    await h.finish('B1'); // a: 1, b: 1 (c has nothing left): a's call finished before b's
    expect(h.started.at(-1)).toBe('A3');
  });

  it('never runs more than the capacity, nor more than perFlow for one flow', async () => {
    const scheduler = createFairScheduler({ capacity: 3, perFlow: 2 });
    let running = 0;
    let peak = 0;
    const perFlow = new Map<string, number>();
    let peakPerFlow = 0;
    const task = (flow: string) => async () => {
      running++;
      perFlow.set(flow, (perFlow.get(flow) ?? 0) + 1);
      peak = Math.max(peak, running);
      peakPerFlow = Math.max(peakPerFlow, perFlow.get(flow)!);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      perFlow.set(flow, perFlow.get(flow)! - 1);
      running--;
      return flow;
    };
    const flows = ['a', 'b', 'c', 'd'];
    const out = await Promise.all(Array.from({ length: 40 }, (_, i) => scheduler.run(flows[i % 4]!, task(flows[i % 4]!))));
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => flows[i % 4]));
    expect(peak).toBe(3);
    expect(peakPerFlow).toBeLessThanOrEqual(2);
    expect(scheduler.state()).toEqual({ running: 0, waiting: 0, flows: 0 });

    // One flow alone gets its perFlow, and no more, even with slots free.
    peak = 0;
    await Promise.all(Array.from({ length: 10 }, () => scheduler.run('solo', task('solo'))));
    expect(peak).toBe(2);
  });

  it('passes a failure to its caller only, and the freed slot goes on to the next task', async () => {
    const h = harness(1);
    h.add('a', 'A1');
    h.add('a', 'A2');
    await flush();
    h.finishers.get('A1')!.reject(new Error('engine down'));
    await expect(h.results.get('A1')).rejects.toThrow('engine down');
    await flush();
    expect(h.started).toEqual(['A1', 'A2']);
    await h.finish('A2');
    await expect(h.results.get('A2')).resolves.toBe('A2');

    const scheduler = createFairScheduler({ capacity: 1 });
    await expect(scheduler.run('x', () => { throw new Error('sync'); })).rejects.toThrow('sync');
    await expect(scheduler.run('x', async () => 'after')).resolves.toBe('after');
  });

  it('drops waiting tasks whose signal aborts, and lets started ones finish', async () => {
    const h = harness(1);
    const stop = new AbortController();
    h.add('long', 'L1', stop.signal);
    h.add('long', 'L2', stop.signal);
    h.add('long', 'L3', stop.signal);
    h.add('other', 'O1');
    await flush();
    stop.abort(new Error('the reply failed'));
    await expect(h.results.get('L2')).rejects.toThrow('the reply failed');
    await expect(h.results.get('L3')).rejects.toThrow('the reply failed');
    expect(h.scheduler.state()).toEqual({ running: 1, waiting: 1, flows: 2 });
    await h.finish('L1');
    await expect(h.results.get('L1')).resolves.toBe('L1');
    await h.finish('O1');
    expect(h.started).toEqual(['L1', 'O1']);
    expect(h.scheduler.state()).toEqual({ running: 0, waiting: 0, flows: 0 });

    // Aborted before it is even queued: nothing runs.
    let ran = false;
    await expect(
      h.scheduler.run('late', async () => (ran = true), AbortSignal.abort(new Error('already'))),
    ).rejects.toThrow('already');
    expect(ran).toBe(false);
  });

  it('refuses a capacity or per-flow cap that makes no sense', () => {
    expect(() => createFairScheduler({ capacity: 0 })).toThrow(RangeError);
    expect(() => createFairScheduler({ capacity: 2.5 })).toThrow(RangeError);
    expect(() => createFairScheduler({ capacity: 2, perFlow: 3 })).toThrow(RangeError);
    expect(createFairScheduler({ capacity: 1 }).perFlow).toBe(1);
    expect(createFairScheduler({ capacity: 2 }).perFlow).toBe(1);
    expect(createFairScheduler({ capacity: 8 }).perFlow).toBe(4);
  });
});
