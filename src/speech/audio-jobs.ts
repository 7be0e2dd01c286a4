// Durable reply audio: the need for a reply's MP3 is a row in audio_jobs, written in the transaction
// that appends the exchange, and deleted once the MP3 is stored. Whatever stops the work on the way
// (a crash, kill -9, an engine or store outage, a POST that gave up waiting) leaves the row, and a
// worker in every API process takes it up again: no reply stays silent, and nobody runs a backfill.
//
// Who does the work: the POST that appended the reply claims its job in that same transaction and
// synthesizes at once, waiting up to SPEECH_TIMEOUT_MS as it always did; the work goes on after the
// POST has answered. A job nobody works on (its instance died, or it failed and its backoff is over)
// is claimed by a worker with SELECT ... FOR UPDATE SKIP LOCKED, so instances sharing a PostgreSQL
// never take the same job; the same statement runs on PGlite. A key being worked on anywhere is
// never claimed twice, which with the cache's has() before synthesis makes one synthesis per key
// across all instances.
//
// Failures: an outage is retried with exponential backoff and jitter (the row remembers its
// attempts, so a restart does not reset them) for up to maxAttempts claims, about two hours. An error
// the engine says is permanent (an unknown voice, text it rejects) is given maxPermanentAttempts.
// Then the row is marked failed, the key is logged, and `npm run audio:backfill` finds the reply.
import { and, asc, eq, inArray, lte, or, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Database, Transaction } from '../db/database.ts';
import { heldByLiveInstance } from '../db/instances.ts';
import { audioJobs } from '../db/schema.ts';
import { SpeechError } from '../errors.ts';
import type { EnsuredAudio, SpeechCache } from './speech-cache.ts';

/** A reply's audio as the write path knows it: the key, and what the key was computed from. */
export interface ReplyAudio {
  key: string;
  replyText: string;
  voiceId: string;
}

export interface AudioJobOptions {
  /** Jobs the background worker runs at once; a POST's own job is not counted. Default 4. */
  concurrency?: number;
  /** How often the worker looks for due jobs. Default 1000 ms. */
  pollMs?: number;
  /** The first retry's delay, doubled per attempt up to maxDelayMs, with jitter. Defaults 2 s and 5 min. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Claims before an outage's job is marked failed. Default 30: about two hours of retries. */
  maxAttempts?: number;
  /** Claims before a job the engine refused is marked failed. Default 3. */
  maxPermanentAttempts?: number;
  /** How long stop() waits for running jobs before it hands them back. Default 10 s. */
  drainMs?: number;
  /** How often a waiting POST looks whether another instance has finished its key. Default 250 ms. */
  waitPollMs?: number;
}

/** What enqueue decided: this instance runs the job (with its claim count), or another one has it. */
export type AudioClaim = { claimed: true; attempts: number } | { claimed: false };

export interface AudioJobs {
  /**
   * Inside the transaction that appends the reply: records that its audio is owed, and claims the
   * job for this instance unless another live one is working on the key.
   */
  enqueue(tx: Transaction, audio: ReplyAudio): Promise<AudioClaim>;
  /**
   * The audio URL once the MP3 is stored, waiting at most timeoutMs: it runs the job when enqueue
   * claimed it, else waits for whoever has it. null when the audio is not ready in time or failed;
   * the work goes on either way. `produce` is how this POST makes the audio when it runs the job (a
   * streamed reply joins the segments it has already synthesized); by default, speech.ensure().
   */
  awaitAudio(audio: ReplyAudio, claim: AudioClaim, timeoutMs: number, produce?: () => Promise<EnsuredAudio>): Promise<string | null>;
  /** Forgets a key's job, failed or not, once its audio was stored by other means (the backfill). */
  resolve(key: string): Promise<void>;
  /** Starts the background worker. */
  start(): void;
  /** Stops claiming, lets running jobs finish (up to drainMs), and hands the rest back. */
  stop(): Promise<void>;
}

/** A claimed job: the audio, and how many claims it has had, this one included. */
interface Claim extends ReplyAudio {
  attempts: number;
}

const MAX_ERROR_CHARS = 1000;

export function createAudioJobs(deps: {
  db: Database;
  speech: SpeechCache;
  instanceId: string;
  log: FastifyBaseLogger;
  options?: AudioJobOptions;
}): AudioJobs {
  const { db, speech, instanceId, log } = deps;
  const opts = deps.options ?? {};
  const concurrency = opts.concurrency ?? 4;
  const pollMs = opts.pollMs ?? 1_000;
  const baseDelayMs = opts.baseDelayMs ?? 2_000;
  const maxDelayMs = opts.maxDelayMs ?? 300_000;
  const maxAttempts = opts.maxAttempts ?? 30;
  const maxPermanentAttempts = opts.maxPermanentAttempts ?? 3;
  const drainMs = opts.drainMs ?? 10_000;
  const waitPollMs = opts.waitPollMs ?? 250;

  // Jobs this process is running, by key: a second request for a running key waits on the same work.
  const running = new Map<string, Promise<string | null>>();
  let backgroundRunning = 0;
  let started = false;
  let stopped = false;
  // After stop() gave up waiting: what still finishes is not written back (the database may be gone).
  let abandoned = false;
  let timer: NodeJS.Timeout | undefined;
  let claiming = false;
  let claimFailing = false;
  // Jobs this process ran but could not write the outcome of (the database was unreachable): their
  // rows still say this live instance holds them, so nobody would take them up until the 10-minute
  // claim ran out. The worker claims them back as soon as the database answers again.
  const unrecorded = new Set<string>();

  const mine = (key: string) => and(eq(audioJobs.key, key), eq(audioJobs.lockedBy, instanceId));
  // Nobody holds a job whose instance is dead, or that was held for longer than any synthesis takes
  // (an instance that is alive but lost track of it, say after a failed write).
  const unheld = or(
    sql`${audioJobs.lockedBy} is null`,
    sql`${audioJobs.lockedAt} < now() - interval '10 minutes'`,
    sql`not ${heldByLiveInstance(audioJobs.lockedBy)}`,
  );

  /** Exponential backoff with equal jitter: half the delay fixed, half random, so retries spread out. */
  function retryDelayMs(attempts: number): number {
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(delay / 2 + Math.random() * (delay / 2));
  }

  async function recordFailure(job: Claim, err: unknown): Promise<void> {
    const permanent = err instanceof SpeechError && err.permanent;
    const limit = permanent ? maxPermanentAttempts : maxAttempts;
    const giveUp = job.attempts >= limit;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
    const delayMs = retryDelayMs(job.attempts);
    await db
      .update(audioJobs)
      .set({
        state: giveUp ? 'failed' : 'pending',
        runAfter: sql`now() + ${`${delayMs} milliseconds`}::interval`,
        lockedBy: null,
        lockedAt: null,
        lastError: message,
        updatedAt: sql`now()`,
      })
      .where(mine(job.key));
    const fields = { key: job.key, voice: job.voiceId, attempts: job.attempts, error: message };
    if (giveUp) {
      log.error(fields, `reply audio failed ${job.attempts} times and is given up; npm run audio:backfill retries it once the cause is fixed`);
    } else {
      log.warn({ ...fields, retryInMs: delayMs }, 'reply audio failed; it is retried');
    }
  }

  function run(job: Claim, produce = () => speech.ensure(job.replyText, job.voiceId)): Promise<string | null> {
    const existing = running.get(job.key);
    if (existing) return existing;
    const work = (async () => {
      try {
        const done = await produce();
        if (!abandoned) await db.delete(audioJobs).where(mine(job.key));
        return done.url;
      } catch (err) {
        if (!abandoned) await recordFailure(job, err);
        return null;
      }
    })()
      .catch((err: unknown) => {
        // The database refused the bookkeeping: the row stays claimed by this instance, and the
        // worker takes it up again once the database answers (see unrecorded); the audio itself may
        // well be stored, and then the next run only finds it there.
        log.error({ err, key: job.key }, 'could not record the outcome of a reply audio job; it is run again once the database answers');
        unrecorded.add(job.key);
        return null;
      })
      .finally(() => running.delete(job.key));
    running.set(job.key, work);
    return work;
  }

  async function claimDue(): Promise<void> {
    const free = concurrency - backgroundRunning;
    if (stopped || claiming || free <= 0) return;
    claiming = true;
    // The keys asked for now; one added while the query runs waits for the next poll.
    const retry = [...unrecorded];
    try {
      const due = db
        .select({ key: audioJobs.key })
        .from(audioJobs)
        .where(
          and(
            eq(audioJobs.state, 'pending'),
            lte(audioJobs.runAfter, sql`now()`),
            retry.length === 0 ? unheld : or(unheld, and(eq(audioJobs.lockedBy, instanceId), inArray(audioJobs.key, retry))),
          ),
        )
        .orderBy(asc(audioJobs.runAfter))
        .limit(free)
        .for('update', { skipLocked: true });
      const claimed = await db
        .update(audioJobs)
        .set({ lockedBy: instanceId, lockedAt: sql`now()`, attempts: sql`${audioJobs.attempts} + 1`, updatedAt: sql`now()` })
        .where(inArray(audioJobs.key, due))
        .returning({ key: audioJobs.key, replyText: audioJobs.replyText, voiceId: audioJobs.voiceId, attempts: audioJobs.attempts });
      if (claimFailing) log.info('reply audio jobs can be claimed again');
      claimFailing = false;
      // Fewer than asked for: every job that could be claimed was, so a key asked for and not claimed
      // is no job any more (deleted after all, or failed), and nothing is owed for it.
      for (const key of claimed.length < free ? retry : claimed.map((job) => job.key)) unrecorded.delete(key);
      for (const job of claimed) {
        // A job that has had all its claims (each one ended by a crash, say) is not run again.
        if (job.attempts > maxAttempts) {
          await recordFailure(job, new SpeechError(`no outcome after ${maxAttempts} attempts`));
          continue;
        }
        backgroundRunning++;
        void run(job).finally(() => {
          backgroundRunning--;
          schedule(0);
        });
      }
    } catch (err) {
      // A database outage: say it once, and keep polling until it is over.
      if (!claimFailing) log.warn({ err }, 'cannot claim reply audio jobs; retrying');
      claimFailing = true;
    } finally {
      claiming = false;
    }
  }

  function schedule(ms: number): void {
    if (stopped || !started) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      void claimDue().finally(() => schedule(pollMs));
    }, ms);
    // Polling alone must not keep a process alive; running jobs do, through their own I/O.
    timer.unref();
  }

  /** Polls the job row until it is gone (stored) or failed, or the signal ends the wait. */
  async function waitForOther(audio: ReplyAudio, signal: AbortSignal): Promise<string | null> {
    while (!signal.aborted) {
      const [row] = await db.select({ state: audioJobs.state }).from(audioJobs).where(eq(audioJobs.key, audio.key));
      if (!row) return speech.urlFor(audio.replyText, audio.voiceId);
      if (row.state === 'failed') return null;
      // While we wait, the instance that had it may have died: then this one takes the work over.
      const local = running.get(audio.key);
      if (local) return local;
      await new Promise((resolve) => setTimeout(resolve, waitPollMs));
    }
    return null;
  }

  return {
    async enqueue(tx, audio) {
      const [row] = await tx
        .insert(audioJobs)
        .values({ key: audio.key, replyText: audio.replyText, voiceId: audio.voiceId, attempts: 1, lockedBy: instanceId, lockedAt: sql`now()` })
        .onConflictDoUpdate({
          target: audioJobs.key,
          // A failed job asked for again starts over; one that nobody holds is this POST's to run now,
          // backoff or not: someone is waiting for it.
          set: {
            state: 'pending',
            attempts: sql`case when ${audioJobs.state} = 'failed' then 1 else ${audioJobs.attempts} + 1 end`,
            lockedBy: instanceId,
            lockedAt: sql`now()`,
            runAfter: sql`now()`,
            lastError: null,
            updatedAt: sql`now()`,
          },
          setWhere: or(eq(audioJobs.state, 'failed'), unheld),
        })
        .returning({ attempts: audioJobs.attempts });
      return row ? { claimed: true, attempts: row.attempts } : { claimed: false };
    },

    async awaitAudio(audio, claim, timeoutMs, produce) {
      const stopWaiting = new AbortController();
      let work: Promise<string | null>;
      if (claim.claimed) {
        work = run({ ...audio, attempts: claim.attempts }, produce);
      } else {
        work = running.get(audio.key) ?? waitForOther(audio, stopWaiting.signal);
      }
      let timeout: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timeout = setTimeout(() => resolve('late'), timeoutMs);
      });
      try {
        const outcome = await Promise.race([work, late]);
        if (outcome !== 'late') return outcome;
        log.warn({ key: audio.key, voice: audio.voiceId }, `reply audio not ready within ${timeoutMs} ms; answering with audio_url null`);
        if (claim.claimed) {
          work.then(
            (url) => url && log.info({ key: audio.key }, 'late reply audio is stored'),
            () => {},
          );
        }
        return null;
      } finally {
        clearTimeout(timeout);
        stopWaiting.abort();
      }
    },

    async resolve(key) {
      await db.delete(audioJobs).where(eq(audioJobs.key, key));
    },

    start() {
      if (started) return;
      started = true;
      schedule(0);
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      const drained = Promise.allSettled([...running.values()]);
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (drainTimer = setTimeout(resolve, drainMs)))]);
      clearTimeout(drainTimer);
      abandoned = true;
      // Whatever did not finish is handed back, so that another instance (or the next start) takes it
      // at once rather than after this instance's heartbeat runs out.
      await db
        .update(audioJobs)
        .set({ lockedBy: null, lockedAt: null })
        .where(eq(audioJobs.lockedBy, instanceId))
        .catch((err: unknown) => log.warn({ err }, 'could not hand back unfinished reply audio jobs'));
    },
  };
}
