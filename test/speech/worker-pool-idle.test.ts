// A worker pool given an idle time lets a thread go after that long without a job (its memory goes
// back to the system), and the next job starts a new thread. The eSpeak synthesizer uses it so that
// an API that has spoken does not hold its workers' memory for good.
import { describe, expect, it } from 'vitest';
import { createWorkerPool } from '../../src/speech/engines/worker-pool.ts';

// A real worker script that answers each job with its thread id.
const script = new URL(
  `data:text/javascript,${encodeURIComponent(`
    import { parentPort, threadId } from 'node:worker_threads';
    parentPort.on('message', ({ id }) => setTimeout(() => parentPort.postMessage({ id, ok: true, value: threadId }), 20));
  `)}`,
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('worker pool with an idle time', () => {
  it('keeps a thread busy enough, lets an idle one go, and starts a new one for the next job', async () => {
    const pool = createWorkerPool<string, number>(script, 1, 'idle test pool', { idleMs: 300 });
    try {
      const first = await pool.run('a');
      await sleep(50);
      expect(await pool.run('b')).toBe(first); // within the idle time: the same thread
      await sleep(900);
      const later = await pool.run('c');
      expect(later).not.toBe(first); // the idle thread exited; this job started another
      // Jobs queued behind a busy thread are not disturbed by the clock.
      const burst = await Promise.all(Array.from({ length: 5 }, () => pool.run('d')));
      expect(new Set(burst)).toEqual(new Set([later]));
    } finally {
      await pool.close();
    }
  });

  it('never lets a thread go without an idle time', async () => {
    const pool = createWorkerPool<string, number>(script, 1);
    try {
      const first = await pool.run('a');
      await sleep(600);
      expect(await pool.run('b')).toBe(first);
    } finally {
      await pool.close();
    }
  });
});
