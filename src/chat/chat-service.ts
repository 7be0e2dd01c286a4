// The chat pipeline. postMessage reads top to bottom like the write path of docs/architecture.md;
// get is the read path, which builds every audio URL from the hash without asking storage anything.
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../access/principal.ts';
import { NotFoundError, UnprocessableError } from '../errors.ts';
import { replyWithin, type ChatModel, type ChatTurn } from '../llm/chat-model.ts';
import type { SpeechCache } from '../speech/speech-cache.ts';
import { untimed, type Timing } from '../timing.ts';
import { UnknownPersonaError, type ChatRepository, type SessionRecord } from './chat-repository.ts';

// The answer shapes are the route schemas' (chat-schemas.ts), so code and OpenAPI document agree.
import type { ChatMessage, ChatSessionResponse, ChatSessionSummary } from './chat-schemas.ts';
export type { ChatMessage, ChatSessionResponse, ChatSessionSummary };

export interface ChatServiceDeps {
  sessions: ChatRepository;
  personas: { findVisible(principal: Principal, id: string): Promise<unknown> };
  model: ChatModel;
  speech: SpeechCache;
  log: FastifyBaseLogger;
  llmTimeoutMs: number;
  llmHistoryLimit: number;
  speechTimeoutMs: number;
}

export function createChatService(deps: ChatServiceDeps) {
  const { sessions, personas, model, speech, log } = deps;

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
  const textOnly = (turns: ChatTurn[]): ChatMessage[] =>
    turns.map(({ role, content }) => ({ role, content, audio_url: null }));

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

  return {
    async create(principal: Principal, personaId: string | null | undefined): Promise<ChatSessionResponse> {
      // A persona the caller cannot see is answered like one that does not exist.
      const unknownPersona = () => new UnprocessableError(`persona ${personaId} does not exist`);
      if (personaId != null && !(await personas.findVisible(principal, personaId))) throw unknownPersona();
      try {
        return { ...summary(await sessions.createSession(principal.ownerId, personaId ?? null)), history: [] };
      } catch (err) {
        if (err instanceof UnknownPersonaError) throw unknownPersona();
        throw err;
      }
    },

    async list(principal: Principal): Promise<ChatSessionSummary[]> {
      return (await sessions.listSessions(principal.ownerId)).map(summary);
    },

    async get(principal: Principal, id: string, timing: Timing = untimed): Promise<ChatSessionResponse> {
      const owner = principal.ownerId;
      const [session, turns] = await timing.measure('db', () =>
        Promise.all([findOrThrow(owner, id), sessions.messages(owner, id)]),
      );
      const history = textOnly(turns);
      await timing.measure('audio-urls', () => addAudioUrls(history, session.voiceId));
      return { ...summary(session), history };
    },

    async postMessage(principal: Principal, id: string, message: string, timing: Timing = untimed): Promise<ChatSessionResponse> {
      const owner = principal.ownerId;
      // 1. The session, its persona and the recent history.
      const [session, recent] = await timing.measure('db-read', () =>
        Promise.all([findOrThrow(owner, id), sessions.recentMessages(owner, id, deps.llmHistoryLimit)]),
      );

      // 2. The reply. An LlmError here stores nothing; the error handler maps it to 429/502/504.
      const reply = await timing.measure('llm', () =>
        replyWithin(model, { systemPrompt: session.systemPrompt, history: recent, message }, deps.llmTimeoutMs),
      );

      // 3-6. Audio through the cache, and 7. the append, side by side: the text is saved even when
      // synthesis fails or hangs, and neither waits for the other.
      const voice = session.voiceId;
      const [audioUrl, replySeq] = await Promise.all([
        timing.measure('speech', () => audioFor(reply, voice)),
        timing.measure('db-append', () => sessions.appendExchange(owner, id, message, reply)),
      ]);
      if (replySeq === undefined) throw new NotFoundError(`chat session ${id} was deleted while the reply was written`);

      // 8. The whole session, with this POST's own outcome on its reply.
      const [current, turns] = await timing.measure('db-history', () =>
        Promise.all([findOrThrow(owner, id), sessions.messages(owner, id)]),
      );
      const history = textOnly(turns);
      await timing.measure('audio-urls', () =>
        addAudioUrls(history, current.voiceId, { index: replySeq - 1, audioUrl }),
      );
      return { ...summary(current), history };
    },

    async delete(principal: Principal, id: string): Promise<void> {
      if (!(await sessions.deleteSession(principal.ownerId, id))) throw new NotFoundError(`chat session ${id} not found`);
    },
  };

  /**
   * A failed synthesis or upload leaves the reply without audio, never without text. So does a slow
   * one: after SPEECH_TIMEOUT_MS the POST answers with audio_url null, and the synthesis goes on into
   * the cache, where the next read of the history finds it under the same URL.
   */
  async function audioFor(reply: string, voice: string): Promise<string | null> {
    const key = speech.keyFor(reply, voice);
    const work = speech.ensure(reply, voice);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deps.speechTimeoutMs);
    });
    try {
      const done = await Promise.race([work, deadline]);
      if (done !== 'late') return done.url;
      log.warn({ key, voice }, `reply audio not ready within ${deps.speechTimeoutMs} ms; answering with audio_url null`);
      work.then(
        () => log.info({ key, voice }, 'late reply audio is stored'),
        (err: unknown) => log.error({ err, key, voice }, 'late reply audio failed'),
      );
      return null;
    } catch (err) {
      log.error({ err, key, voice }, 'reply audio failed; the reply is saved with audio_url null');
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

export type ChatService = ReturnType<typeof createChatService>;
