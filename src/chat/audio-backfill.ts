// Audio backfill: makes sure every model message has its MP3 in its session's CURRENT voice (the
// persona's voice_id, else the default voice), e.g. after a persona changed voice or after a speech
// outage left replies with audio_url null. `npm run audio:backfill` is the command line around it.
//
// No state file is needed to resume an interrupted run: audio that is already stored comes back as a
// hit from ensure() (one has() per pair, no synthesis), so running again simply skips what is done.
// For the same reason a second run synthesizes nothing.
import { mapBounded } from '../speech/bounded.ts';
import type { AudioJobs } from '../speech/audio-jobs.ts';
import type { SpeechCache } from '../speech/speech-cache.ts';
import type { ChatRepository } from './chat-repository.ts';

export interface BackfillProgress {
  /** Model messages read from the database. */
  scanned: number;
  /**
   * Distinct (text, voice) pairs, de-duplicated within each page: a pair that repeats in a later page
   * counts again there and comes back as present.
   */
  uniquePairs: number;
  /** Pairs whose audio was already stored. */
  present: number;
  synthesized: number;
  failed: number;
  /** Characters sent to the speech engine (what Polly bills). */
  billedCharacters: number;
}

export interface BackfillFailure {
  key: string;
  voiceId: string;
  /** The first message that needed this audio, to find it again. */
  sessionId: string;
  seq: number;
  error: string;
}

export interface BackfillSummary extends BackfillProgress {
  /** The first few failures (MAX_REPORTED_FAILURES); `failed` has the full count. */
  failures: BackfillFailure[];
  /** True when the signal stopped the run before every message was scanned and its audio ensured. */
  aborted: boolean;
}

export interface BackfillDeps {
  sessions: Pick<ChatRepository, 'sessionExistsForAnyOwner' | 'modelMessagesPage'>;
  speech: Pick<SpeechCache, 'ensure' | 'keyFor'>;
  /**
   * The durable audio jobs: a key this run synthesizes is no longer owed, so its job (typically one
   * the worker gave up on) is forgotten.
   */
  jobs?: Pick<AudioJobs, 'resolve'> | undefined;
  /** Limit the run to one session. */
  sessionId?: string | undefined;
  /** ensure() calls in flight at once (default 4). Each one may itself synthesize pieces in parallel. */
  concurrency?: number | undefined;
  /** Model messages read per query (default 500). */
  pageSize?: number | undefined;
  /** Called after each page is read and after each pair is done; the object is a fresh snapshot. */
  onProgress?: ((p: BackfillProgress) => void) | undefined;
  /** Aborting stops taking new pairs; the ones in flight finish and the summary is still returned. */
  signal?: AbortSignal | undefined;
}

/** The wrong --session: not a UUID, or no such session. The CLI exits with code 2 for it. */
export class BackfillScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillScopeError';
  }
}

export const MAX_REPORTED_FAILURES = 5;
const DEFAULT_PAGE_SIZE = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Pair {
  content: string;
  voiceId: string;
  sessionId: string;
  seq: number;
}

export async function backfillAudio(deps: BackfillDeps): Promise<BackfillSummary> {
  const { sessions, speech, sessionId, signal, onProgress } = deps;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const pageSize = Math.max(1, deps.pageSize ?? DEFAULT_PAGE_SIZE);

  if (sessionId !== undefined) {
    if (!UUID.test(sessionId)) throw new BackfillScopeError(`--session must be a session id (a UUID), got ${JSON.stringify(sessionId)}`);
    if (!(await sessions.sessionExistsForAnyOwner(sessionId))) throw new BackfillScopeError(`no chat session with id ${sessionId}`);
  }

  const counts: BackfillProgress = { scanned: 0, uniquePairs: 0, present: 0, synthesized: 0, failed: 0, billedCharacters: 0 };
  const failures: BackfillFailure[] = [];
  const report = () => onProgress?.({ ...counts });

  async function ensureOne(pair: Pair) {
    try {
      const done = await speech.ensure(pair.content, pair.voiceId);
      if (done.outcome === 'hit') counts.present++;
      else {
        counts.synthesized++;
        await deps.jobs?.resolve(done.key);
      }
      counts.billedCharacters += done.billedCharacters;
    } catch (err) {
      // One bad pair (an unknown voice, a throttled engine) must not stop the others.
      counts.failed++;
      if (failures.length < MAX_REPORTED_FAILURES) {
        failures.push({
          key: speech.keyFor(pair.content, pair.voiceId),
          voiceId: pair.voiceId,
          sessionId: pair.sessionId,
          seq: pair.seq,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    report();
  }

  let after: { sessionId: string; seq: number } | undefined;
  let complete = false;
  while (!signal?.aborted) {
    const rows = await sessions.modelMessagesPage({ sessionId, after, limit: pageSize });
    if (rows.length === 0) {
      complete = true;
      break;
    }
    const last = rows[rows.length - 1]!;
    after = { sessionId: last.sessionId, seq: last.seq };
    counts.scanned += rows.length;

    // Replies often repeat (greetings, the offline model, retries), and one key needs one ensure().
    // PostgreSQL text cannot hold NUL, so voice + NUL + content is unambiguous.
    const pairs = new Map<string, Pair>();
    for (const row of rows) {
      const id = `${row.voiceId}\u0000${row.content}`;
      if (!pairs.has(id)) pairs.set(id, row);
    }
    counts.uniquePairs += pairs.size;
    report();

    await mapBounded([...pairs.values()], concurrency, ensureOne, signal);
    const pageDone = counts.present + counts.synthesized + counts.failed === counts.uniquePairs;
    if (rows.length < pageSize && pageDone) {
      complete = true;
      break;
    }
  }

  return { ...counts, failures, aborted: !complete };
}
