// One scheduler per process in front of the speech engine, so that one long reply cannot starve the
// others. A FIFO line in front of the engine let a 2,000,000-character reply hold eSpeak's worker
// while short replies in other sessions waited 23-30 s for their turn.
//
// Calls are grouped into flows (one per reply: its audio key). At most `capacity` calls are in flight
// (what the engine serves without queueing or throttling), and one flow never has more than `perFlow`
// of them, so a newcomer finds a free slot instead of a line of someone else's pieces. When a slot
// frees, it goes to the waiting flow with the fewest calls in flight; among equals, to the one that has
// waited longest since it arrived or last had a call finish. So flows take turns (round robin), and a
// short reply waits for at most the calls already running, not for a long one's queue.
//
// Limits: a call in flight is never preempted, so the engine's piece size bounds the wait when every
// slot is taken. Turns are counted in calls, not characters: a long reply's full piece and a short
// reply's few words are one turn each. And the bound is per process: several API processes on one
// Polly account share its quota without knowing of each other.

export interface FairScheduler {
  /**
   * Runs `task` once a slot is free and it is `flow`'s turn, and settles as it does. When `signal`
   * aborts before the task has started, the task never starts and this rejects with the signal's
   * reason; a task that has started runs to its end (engines cannot stop mid-call).
   */
  run<T>(flow: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** What is running and waiting now, for tests and diagnostics. */
  state(): FairSchedulerState;
}

export interface FairSchedulerOptions {
  /** Calls in flight at once, over all flows. */
  capacity: number;
  /** Calls in flight at once for one flow; default max(1, floor(capacity / 2)). */
  perFlow?: number;
}

export interface FairSchedulerState {
  /** Calls in flight. */
  running: number;
  /** Calls waiting for a slot. */
  waiting: number;
  /** Flows with calls in flight or waiting. */
  flows: number;
}

interface Waiting {
  start(): void;
}

interface Flow {
  running: number;
  queue: Waiting[];
  /**
   * When the flow arrived or last had a call finish: lower goes first among equals. Not when it last
   * started one, or a long flow whose piece started before a newcomer arrived would go first again.
   */
  readyAt: number;
}

export function createFairScheduler(options: FairSchedulerOptions): FairScheduler & {
  readonly capacity: number;
  readonly perFlow: number;
} {
  const { capacity } = options;
  const perFlow = options.perFlow ?? Math.max(1, Math.floor(capacity / 2));
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
  if (!Number.isInteger(perFlow) || perFlow < 1 || perFlow > capacity) {
    throw new RangeError(`perFlow must be an integer from 1 to capacity (${capacity}), got ${perFlow}`);
  }

  const flows = new Map<string, Flow>();
  let running = 0;
  let waiting = 0;
  let clock = 0;

  function forgetIfIdle(name: string, flow: Flow): void {
    if (flow.running === 0 && flow.queue.length === 0 && flows.get(name) === flow) flows.delete(name);
  }

  function dispatch(): void {
    while (running < capacity) {
      let next: Flow | undefined;
      for (const flow of flows.values()) {
        if (flow.queue.length === 0 || flow.running >= perFlow) continue;
        if (!next || flow.running < next.running || (flow.running === next.running && flow.readyAt < next.readyAt)) next = flow;
      }
      if (!next) return;
      const call = next.queue.shift()!;
      waiting--;
      next.running++;
      running++;
      call.start();
    }
  }

  return {
    capacity,
    perFlow,
    state: () => ({ running, waiting, flows: flows.size }),
    run<T>(name: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolve, reject) => {
        let flow = flows.get(name);
        if (!flow) {
          flow = { running: 0, queue: [], readyAt: ++clock };
          flows.set(name, flow);
        }
        const own = flow;
        const onAbort = () => {
          const at = own.queue.indexOf(call);
          if (at < 0) return; // already started
          own.queue.splice(at, 1);
          waiting--;
          forgetIfIdle(name, own);
          reject(signal!.reason);
        };
        const call: Waiting = {
          start() {
            signal?.removeEventListener('abort', onAbort);
            const settle = () => {
              own.running--;
              own.readyAt = ++clock;
              running--;
              forgetIfIdle(name, own);
              dispatch();
            };
            let work: Promise<T>;
            try {
              work = task();
            } catch (err) {
              work = Promise.reject(err);
            }
            work.then(
              (value) => {
                settle();
                resolve(value);
              },
              (err: unknown) => {
                settle();
                reject(err);
              },
            );
          },
        };
        own.queue.push(call);
        waiting++;
        signal?.addEventListener('abort', onAbort, { once: true });
        dispatch();
      });
    },
  };
}
