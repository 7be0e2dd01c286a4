// A small pool of worker threads for synchronous CPU work (eSpeak's synthesis and MP3 encoding), so
// that the event loop stays free for HTTP, health checks and signals. Jobs go to an idle worker or
// wait in line; workers start on demand and an idle one does not keep the process alive (and, when the
// pool is given an idle time, exits after it, giving its memory back).
import { Worker } from 'node:worker_threads';
import { SpeechError } from '../../errors.ts';

/** What the pool sends a worker thread: one job at a time. */
export interface WorkerRequest<J> {
  id: number;
  job: J;
}

/** What a worker thread answers to a request: the result, or the message of a SpeechError. */
export type WorkerReply<R> = { id: number; ok: true; value: R } | { id: number; ok: false; message: string };

export interface WorkerPool<J, R> {
  /** Runs a job on an idle worker, or waits in line for one. */
  run(job: J): Promise<R>;
  /** Stops the workers; waiting and running jobs, and later ones, reject with a SpeechError. */
  close(): Promise<void>;
}

// From source, a worker script is a .ts file that no test transform reaches, and on Node 20 a loader
// passed in a Worker's execArgv (`--import tsx`) never applies to the worker's own entry module
// (nodejs/node #47747, tsx #354). So such a worker starts from a tiny ESM bootstrap that registers tsx
// in that thread and then imports the script. tsx is found from this file rather than the working
// directory, so a CLI started elsewhere works too; the parent's execArgv is not inherited, so the
// worker starts the same under `node --import tsx`, the tsx CLI and vitest. Compiled (`npm run build`),
// the script is plain JavaScript and starts as it is: tsx is a development dependency, absent there,
// which is why it is resolved only for a .ts script.
function entryFor(script: URL): URL {
  if (!script.pathname.endsWith('.ts')) return script;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(script.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

interface Task<J, R> {
  job: J;
  resolve(value: R): void;
  reject(err: Error): void;
}

interface Thread<J, R> {
  worker: Worker;
  task?: Task<J, R>;
  requestId: number;
  /** Set while the thread is idle, when the pool lets idle threads go. */
  idleTimer?: NodeJS.Timeout;
}

export interface WorkerPoolOptions {
  /**
   * A thread with no job for this long exits, and the next job starts a new one. Unset: threads
   * stay until close(). What a thread holds (its isolate, compiled code, the memory of its last
   * job) is only given back when it exits; the price is a thread start on the next job.
   */
  idleMs?: number;
}

/**
 * Up to `size` worker threads running `script` (which answers each WorkerRequest with a WorkerReply),
 * started on demand and reused, and with `options.idleMs` let go after that long without a job. An
 * idle worker does not keep the process alive. A worker that crashes fails only the job it had; the
 * next job starts a new one.
 */
export function createWorkerPool<J, R>(script: URL, size: number, label = 'worker pool', options: WorkerPoolOptions = {}): WorkerPool<J, R> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a worker pool needs at least one worker, not ${size}`);
  const threads = new Set<Thread<J, R>>();
  const queue: Task<J, R>[] = [];
  let closed = false;
  let lastRequestId = 0;
  const closedError = () => new SpeechError(`the ${label} is closed`);
  const entry = entryFor(script);

  function start(): Thread<J, R> {
    const worker = new Worker(entry, { execArgv: [] });
    const thread: Thread<J, R> = { worker, requestId: 0 };
    threads.add(thread);
    worker.unref();
    worker.on('message', (reply: WorkerReply<R>) => {
      const task = thread.task;
      if (!task || reply.id !== thread.requestId) return;
      thread.task = undefined;
      worker.unref();
      if (reply.ok) task.resolve(reply.value);
      else task.reject(new SpeechError(reply.message));
      dispatch();
      if (!thread.task) idle(thread);
    });
    // An uncaught error in the worker ('error', then 'exit') or an exit of its own: it is gone.
    const retire = (failure: () => SpeechError) => {
      clearTimeout(thread.idleTimer);
      if (!threads.delete(thread)) return;
      const task = thread.task;
      thread.task = undefined;
      task?.reject(closed ? closedError() : failure());
      dispatch();
    };
    worker.on('error', (cause) => retire(() => new SpeechError(`a thread of the ${label} failed: ${cause.message}`, { cause })));
    worker.on('exit', (code) => retire(() => new SpeechError(`a thread of the ${label} stopped (exit code ${code})`)));
    return thread;
  }

  /** Starts the idle clock of a thread that has just finished a job and got no other. */
  function idle(thread: Thread<J, R>): void {
    if (options.idleMs === undefined || closed) return;
    thread.idleTimer = setTimeout(() => {
      // Out of the pool first, so that its exit fails nothing and the next job starts another.
      if (thread.task || !threads.delete(thread)) return;
      thread.worker.terminate().catch(() => {});
    }, options.idleMs);
    thread.idleTimer.unref();
  }

  function dispatch(): void {
    while (!closed && queue.length > 0) {
      let thread = [...threads].find((t) => !t.task);
      if (!thread) {
        if (threads.size >= size) return;
        try {
          thread = start();
        } catch (cause) {
          queue.shift()?.reject(new SpeechError(`cannot start a thread of the ${label}`, { cause }));
          continue;
        }
      }
      const task = queue.shift();
      if (!task) return;
      lastRequestId += 1;
      clearTimeout(thread.idleTimer);
      thread.task = task;
      thread.requestId = lastRequestId;
      // A job in flight keeps the process alive, as any pending I/O would.
      thread.worker.ref();
      const request: WorkerRequest<J> = { id: lastRequestId, job: task.job };
      thread.worker.postMessage(request);
    }
  }

  return {
    run(job: J): Promise<R> {
      if (closed) return Promise.reject(closedError());
      return new Promise<R>((resolve, reject) => {
        queue.push({ job, resolve, reject });
        dispatch();
      });
    },
    async close(): Promise<void> {
      closed = true;
      for (const thread of threads) clearTimeout(thread.idleTimer);
      for (const task of queue.splice(0)) task.reject(closedError());
      // Each exit rejects the job that worker had.
      await Promise.all([...threads].map((t) => t.worker.terminate()));
    },
  };
}
