// The chat pipeline. postMessage reads top to bottom like the write path of docs/architecture.md;
// get is the read path, which builds every audio URL from the hash without asking storage anything.
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../access/principal.ts';
import { NotFoundError, UnprocessableError } from '../errors.ts';
import { streamWithin, type ChatModel, type ChatTurn } from '../llm/chat-model.ts';
import type { AudioClaim, AudioJobs, ReplyAudio } from '../speech/audio-jobs.ts';
import type { SegmentAudio, SpeechCache } from '../speech/speech-cache.ts';
import { untimed, type Timing } from '../timing.ts';
import type { IdempotencyKeys } from './idempotency.ts';
import { UnknownPersonaError, type ChatRepository, type HistoryPage, type NumberedTurn, type SessionRecord } from './chat-repository.ts';

// The answer shapes are the route schemas' (chat-schemas.ts), so code and OpenAPI document agree.
import type { ChatMessage, ChatSessionResponse, ChatSessionSummary } from './chat-schemas.ts';
export type { ChatMessage, ChatSessionResponse, ChatSessionSummary };

/** What a streamed reply reports while it is written. */
export interface ReplyEvents {
  /** The LLM's next delta; the deltas joined are the stored reply. */
  text(delta: string): void;
  /** A segment of the reply's speech, in index order. */
  audio(segment: SegmentAudio): void;
}

/** A message that passed every check: answered already (a replayed Idempotency-Key), or ready to run. */
export type PreparedMessage =
  | { replayed: true; response: ChatSessionResponse }
  | { replayed: false; run(events?: ReplyEvents): Promise<ChatSessionResponse> };

export interface ChatServiceDeps {
  sessions: ChatRepository;
  personas: { findVisible(principal: Principal, id: string): Promise<unknown> };
  model: ChatModel;
  speech: SpeechCache;
  log: FastifyBaseLogger;
  llmTimeoutMs: number;
  llmHistoryLimit: number;
  speechTimeoutMs: number;
  audioJobs: Pick<AudioJobs, 'enqueue' | 'awaitAudio'>;
  idempotency: IdempotencyKeys;
}

export function createChatService(deps: ChatServiceDeps) {
  const { sessions, personas, model, speech, log, audioJobs, idempotency } = deps;

  function summary(session: SessionRecord): ChatSessionSummary {
    return {
      session_id: session.id,
      persona_id: session.personaId,
      voice_id: session.voiceId,
      created_at: session.createdAt.toISOString(),
      updated_at: session.updatedAt.toISOString(),
    };
  }

  /** The history in the response shape, text only: what a chat without voice would return. */
  const textOnly = (turns: NumberedTurn[]): ChatMessage[] =>
    turns.map(({ seq, role, content }) => ({ seq, role, content, audio_url: null }));

  /**
   * The answer for a session and its history, whole or a page. Seqs run from 1 without gaps
   * (messages are only deleted with their session), so older messages exist exactly when the first
   * one returned is not the first of the session.
   */
  const withHistory = (session: SessionRecord, history: ChatMessage[]): ChatSessionResponse => ({
    ...summary(session),
    history,
    has_more: (history[0]?.seq ?? 1) > 1,
  });

  /**
   * Every model message gets the URL of its audio in the session's current voice, built from the
   * hash alone. Kept apart from textOnly so that Server-Timing's audio-urls phase is exactly the cost
   * that voice adds to a read.
   */
  async function addAudioUrls(
    history: ChatMessage[],
    voice: string,
    override?: { index: number; audioUrl: string | null },
  ): Promise<void> {
    for (let i = 0; i < history.length; i++) {
      const message = history[i]!;
      if (message.role !== 'model') continue;
      message.audio_url = i === override?.index ? override.audioUrl : await speech.urlFor(message.content, voice);
    }
  }

  // Another owner's session is not found, exactly like one that does not exist.
  async function findOrThrow(ownerId: string, id: string): Promise<SessionRecord> {
    const session = await sessions.findSession(ownerId, id);
    if (!session) throw new NotFoundError(`chat session ${id} not found`);
    return session;
  }

  // Replies being written now, for drain().
  const writing = new Set<Promise<unknown>>();
  function track<T>(work: Promise<T>): Promise<T> {
    writing.add(work);
    const forget = () => writing.delete(work);
    work.then(forget, forget);
    return work;
  }

  async function writeReply(
    principal: Principal,
    session: SessionRecord,
    recent: ChatTurn[],
    message: string,
    idempotencyKey: string | undefined,
    timing: Timing,
    events: ReplyEvents | undefined,
  ): Promise<ChatSessionResponse> {
    const owner = principal.ownerId;
    const id = session.id;
    // Streamed, each segment is voiced as soon as it is cut; plain, only when the reply is complete
    // and not in the cache already.
    const voice = speech.speak(session.voiceId, { eager: events !== undefined, onSegment: events?.audio });
    let audio: ReplyAudio;
    let replySeq: number | undefined;
    let claim = { claimed: false } as AudioClaim;
    try {
      // 2. The reply, delta by delta. An LlmError here stores nothing; the error handler maps it to
      // 429/502/504, and a stream ends with an error event.
      let reply = '';
      await timing.measure('llm', async () => {
        const request = { systemPrompt: session.systemPrompt, history: recent, message };
        for await (const delta of streamWithin(model, request, deps.llmTimeoutMs)) {
          reply += delta;
          events?.text(delta);
          voice.push(delta);
        }
      });
      voice.end();
      // 3-4. The voice and the key.
      audio = { key: speech.keyFor(reply, session.voiceId), replyText: reply, voiceId: session.voiceId };
      // 7, before 5-6: the exchange is appended with its audio job and its Idempotency-Key in one
      // transaction. From here on neither the reply nor the duty to voice it can be lost.
      replySeq = await timing.measure('db-append', () =>
        sessions.appendExchange(owner, id, message, reply, async (tx, seq) => {
          claim = await audioJobs.enqueue(tx, audio);
          if (idempotencyKey !== undefined) await idempotency.complete(tx, owner, idempotencyKey, seq);
        }),
      );
      if (replySeq === undefined) throw new NotFoundError(`chat session ${id} was deleted while the reply was written`);
    } catch (err) {
      voice.abandon();
      // Nothing was appended: a retry with the same key must run afresh.
      if (idempotencyKey !== undefined) {
        await idempotency.release(owner, idempotencyKey).catch((e: unknown) => log.warn({ err: e }, 'could not release an Idempotency-Key'));
      }
      throw err;
    }

    // 5-6. The audio: the segments joined and stored (plain: a cache hit costs one has(), a miss one
    // synthesis), waited for up to SPEECH_TIMEOUT_MS. A failure or a late synthesis answers
    // audio_url null; the job lives on.
    const audioUrl = await timing.measure('speech', () =>
      audioJobs.awaitAudio(audio, claim, deps.speechTimeoutMs, () => voice.store(audio.key)),
    );

    // 8. The whole session, with this POST's own outcome on its reply.
    const [current, turns] = await timing.measure('db-history', () =>
      Promise.all([findOrThrow(owner, id), sessions.messagePage(owner, id, {})]),
    );
    const history = textOnly(turns);
    await timing.measure('audio-urls', () => addAudioUrls(history, current.voiceId, { index: replySeq - 1, audioUrl }));
    return { ...summary(current), history, has_more: false };
  }

  const service = {
    async create(principal: Principal, personaId: string | null | undefined): Promise<ChatSessionResponse> {
      // A persona the caller cannot see is answered like one that does not exist.
      const unknownPersona = () => new UnprocessableError(`persona ${personaId} does not exist`);
      if (personaId != null && !(await personas.findVisible(principal, personaId))) throw unknownPersona();
      try {
        return withHistory(await sessions.createSession(principal.ownerId, personaId ?? null), []);
      } catch (err) {
        if (err instanceof UnknownPersonaError) throw unknownPersona();
        throw err;
      }
    },

    async list(principal: Principal): Promise<ChatSessionSummary[]> {
      return (await sessions.listSessions(principal.ownerId)).map(summary);
    },

    /** The history, or the page of it that `page` asks for; URLs are built for that page only. */
    async get(principal: Principal, id: string, page: HistoryPage = {}, timing: Timing = untimed): Promise<ChatSessionResponse> {
      const owner = principal.ownerId;
      const [session, turns] = await timing.measure('db', () =>
        Promise.all([findOrThrow(owner, id), sessions.messagePage(owner, id, page)]),
      );
      const history = textOnly(turns);
      await timing.measure('audio-urls', () => addAudioUrls(history, session.voiceId));
      return withHistory(session, history);
    },

    /**
     * The write path, in two steps. prepareMessage does everything that can refuse the message (the
     * session, the Idempotency-Key) and nothing that costs; a replayed key is answered there, with
     * the session as it stood after its reply. run() then writes the reply: streamed to `events` as
     * it is written and voiced segment by segment, or, without events, voiced when complete (the
     * plain POST). Both are this one pipeline; only when synthesis starts differs (speech-cache.ts).
     */
    async prepareMessage(
      principal: Principal,
      id: string,
      message: string,
      opts: { idempotencyKey?: string | undefined } = {},
      timing: Timing = untimed,
    ): Promise<PreparedMessage> {
      const owner = principal.ownerId;
      // 1. The session, its persona and the recent history.
      const [session, recent] = await timing.measure('db-read', () =>
        Promise.all([findOrThrow(owner, id), sessions.recentMessages(owner, id, deps.llmHistoryLimit)]),
      );
      const idempotencyKey = opts.idempotencyKey;
      if (idempotencyKey !== undefined) {
        const start = await timing.measure('idempotency', () => idempotency.begin(owner, idempotencyKey, id, message));
        if (start.kind === 'replay') {
          return { replayed: true, response: await service.get(principal, id, { before: start.replySeq + 1 }, timing) };
        }
      }
      return { replayed: false, run: (events) => track(writeReply(principal, session, recent, message, idempotencyKey, timing, events)) };
    },

    /** The plain POST: prepareMessage, then run() without events. */
    async postMessage(
      principal: Principal,
      id: string,
      message: string,
      opts: { idempotencyKey?: string | undefined } = {},
      timing: Timing = untimed,
    ): Promise<{ response: ChatSessionResponse; replayed: boolean }> {
      const prepared = await service.prepareMessage(principal, id, message, opts, timing);
      if (prepared.replayed) return { response: prepared.response, replayed: true };
      return { response: await prepared.run(), replayed: false };
    },

    /**
     * Waits, at most timeoutMs, for the replies being written to be stored: a streamed reply whose
     * client hung up has no connection left to keep a shutdown waiting for it.
     */
    async drain(timeoutMs: number): Promise<void> {
      if (writing.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.allSettled([...writing]), late]);
      clearTimeout(timer);
      if (writing.size > 0) log.warn({ replies: writing.size }, `replies still being written after ${timeoutMs} ms; shutting down anyway`);
    },

    async delete(principal: Principal, id: string): Promise<void> {
      if (!(await sessions.deleteSession(principal.ownerId, id))) throw new NotFoundError(`chat session ${id} not found`);
    },
  };
  return service;
}

export type ChatService = ReturnType<typeof createChatService>;
