// One chat: its history (the last page first, older pages on demand), the composer, and replies that
// stream in with their speech. A reply is heard through the page's one player (audio/player.ts).
import { memo } from 'preact/compat';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, call, type ChatMessage, type ChatSession, type Persona } from './api/client.ts';
import { player, usePlayer, type SegmentQueue } from './audio/player.ts';
import { personaName } from './chats.tsx';
import { base64ToBytes, readReplyStream, StreamError } from './event-stream.ts';
import { Markdown } from './markdown.ts';

/** Messages per page of history: the last page on open, then one more per "Load older messages". */
const PAGE = 30;

/** `/?stream=off` asks for the plain POST: for proxies that buffer streams, and the benchmark. */
const STREAMING = new URLSearchParams(location.search).get('stream') !== 'off';

interface UiMessage {
  /** Stable for the message's life on the page, and the player's track for its audio. */
  id: string;
  seq: number | null;
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
  /** The reply is still being written. */
  streaming?: boolean;
  /** Its speech, segment by segment, while it streams. */
  queue?: SegmentQueue;
}

interface State {
  session: ChatSession | null;
  messages: UiMessage[];
  hasMore: boolean;
}

const stored = (sessionId: string, m: ChatMessage): UiMessage => ({
  id: `${sessionId}:${m.seq}`,
  seq: m.seq,
  role: m.role,
  content: m.content,
  audio_url: m.audio_url,
});

interface Props {
  sessionId: string;
  personas: Persona[];
  autoplay: boolean;
  report(err: unknown): void;
}

export function Conversation({ sessionId, personas, autoplay, report }: Props) {
  const [state, setState] = useState<State>({ session: null, messages: [], hasMore: false });
  const [loadingOlder, setLoadingOlder] = useState(false);
  // The button and the scroll sentinel can both ask before a render shows the first request: the
  // state above is then stale in both closures, so the guard against a second request is a ref.
  const olderInFlight = useRef(false);
  const [sending, setSending] = useState(false);
  const [draft, setDraft] = useState('');
  const log = useRef<HTMLDivElement>(null);
  const top = useRef<HTMLDivElement>(null);
  // How to put the scroll position back after a render: at the bottom, or where it was above the
  // messages that an older page added.
  const anchor = useRef<{ kind: 'bottom' } | { kind: 'keep'; fromBottom: number } | null>(null);
  const blobUrls = useRef<string[]>([]);
  const playerState = usePlayer();

  const update = (id: string, change: (m: UiMessage) => UiMessage) =>
    setState((s) => ({ ...s, messages: s.messages.map((m) => (m.id === id ? change(m) : m)) }));

  const loadLatest = async () => {
    const session = await call(
      api.GET('/api/chat/{session_id}', { params: { path: { session_id: sessionId }, query: { limit: PAGE } } }),
    );
    anchor.current = { kind: 'bottom' };
    setState({ session, messages: session.history.map((m) => stored(sessionId, m)), hasMore: session.has_more });
  };

  useEffect(() => {
    setState({ session: null, messages: [], hasMore: false });
    loadLatest().catch(report);
    return () => {
      player().stop();
      for (const url of blobUrls.current.splice(0)) URL.revokeObjectURL(url);
    };
  }, [sessionId]);

  const loadOlder = async () => {
    const first = state.messages[0]?.seq;
    if (olderInFlight.current || !state.hasMore || first == null) return;
    olderInFlight.current = true;
    setLoadingOlder(true);
    try {
      const page = await call(
        api.GET('/api/chat/{session_id}', {
          params: { path: { session_id: sessionId }, query: { limit: PAGE, before: first } },
        }),
      );
      // Only onto the messages it was asked before: a closure as stale as `first` must not add a page twice.
      setState((s) => {
        if (s.messages[0]?.seq !== first) return s;
        const el = log.current;
        anchor.current = { kind: 'keep', fromBottom: el ? el.scrollHeight - el.scrollTop : 0 };
        return { ...s, messages: [...page.history.map((m) => stored(sessionId, m)), ...s.messages], hasMore: page.has_more };
      });
    } catch (err) {
      report(err);
    } finally {
      olderInFlight.current = false;
      setLoadingOlder(false);
    }
  };

  // Scrolling to the top loads the page before: the sentinel above the oldest message comes into view.
  useEffect(() => {
    const el = top.current;
    if (!el || !state.hasMore) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadOlder();
    }, { root: log.current });
    observer.observe(el);
    return () => observer.disconnect();
  });

  useLayoutEffect(() => {
    const el = log.current;
    const a = anchor.current;
    if (!el || !a) return;
    anchor.current = null;
    el.scrollTop = a.kind === 'bottom' ? el.scrollHeight : el.scrollHeight - a.fromBottom;
  });

  /** Follow a streaming reply down, unless the reader scrolled up to read something else. */
  const follow = () => {
    const el = log.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) anchor.current = { kind: 'bottom' };
  };

  const send = async () => {
    const text = draft;
    if (!text.trim() || sending) return;
    setSending(true);
    setDraft('');
    const user: UiMessage = { id: crypto.randomUUID(), seq: null, role: 'user', content: text, audio_url: null };
    const queue: SegmentQueue = { urls: [], complete: false };
    const reply: UiMessage = { id: crypto.randomUUID(), seq: null, role: 'model', content: '', audio_url: null, streaming: true, queue };
    anchor.current = { kind: 'bottom' };
    setState((s) => ({ ...s, messages: [...s.messages, user, reply] }));
    // Sent again with the same key, a request that may have reached the API is not posted twice.
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const path = { session_id: sessionId };
    let started = false;
    // The next drawing of the deltas, cancelled when the stream ends, whichever way it ends.
    let frame = 0;
    try {
      let session: ChatSession;
      if (STREAMING) {
        // Autoplay: the first segment plays as soon as it arrives, while the text still streams.
        if (autoplay) player().playSegments(reply.id, queue);
        const { response, error } = await api.POST('/api/chat/{session_id}/message', {
          params: { path },
          body: { message: text },
          headers: { ...headers, accept: 'text/event-stream' },
          parseAs: 'stream',
        });
        if (!response.ok) throw ApiError.from(response.status, error);
        started = true;
        let pending = '';
        // Deltas are drawn once per frame, not once per delta.
        const flush = () => {
          frame = 0;
          const delta = pending;
          pending = '';
          follow();
          update(reply.id, (m) => ({ ...m, content: m.content + delta }));
        };
        session = await readReplyStream<ChatSession>(response, {
          text(delta) {
            pending += delta;
            frame ||= requestAnimationFrame(flush);
          },
          audio(segment) {
            const url = segment.audio
              ? URL.createObjectURL(new Blob([base64ToBytes(segment.audio)], { type: 'audio/mpeg' }))
              : null;
            if (url) blobUrls.current.push(url);
            queue.urls[segment.index] = url;
            player().segmentsChanged(reply.id);
          },
        });
        // done's stored reply replaces the drawn text below: no delta may be drawn after it.
        cancelAnimationFrame(frame);
      } else {
        session = await call(api.POST('/api/chat/{session_id}/message', { params: { path }, body: { message: text }, headers }));
        started = true;
      }
      queue.complete = true;
      player().segmentsChanged(reply.id);
      const [storedUser, storedReply] = session.history.slice(-2);
      follow();
      setState((s) => ({
        ...s,
        session,
        messages: s.messages.map((m) =>
          m.id === user.id && storedUser
            ? { ...m, seq: storedUser.seq }
            : m.id === reply.id && storedReply
              ? { ...m, seq: storedReply.seq, content: storedReply.content, audio_url: storedReply.audio_url, streaming: false }
              : m,
        ),
      }));
      if (!STREAMING && autoplay && storedReply?.audio_url) player().playUrl(reply.id, storedReply.audio_url);
    } catch (err) {
      queue.complete = true;
      if (player().state().track === reply.id) player().stop();
      if (!started || err instanceof StreamError) {
        // Refused, or the LLM failed: nothing was stored, so the words go back to the composer.
        setState((s) => ({ ...s, messages: s.messages.filter((m) => m.id !== user.id && m.id !== reply.id) }));
        setDraft((d) => d || text);
        report(err);
      } else {
        // The connection dropped mid-stream: the API still finishes and stores the reply.
        report(new ApiError(0, 'The connection dropped while the reply was streaming. It is still being saved: showing the chat again.'));
        await loadLatest().catch(report);
      }
    } finally {
      cancelAnimationFrame(frame);
      setSending(false);
    }
  };

  /** Play, or try again after "Audio not ready": the history builds the URL from the reply's key. */
  const play = async (m: UiMessage) => {
    if (m.streaming && m.queue) return player().playSegments(m.id, m.queue);
    let url = m.audio_url;
    if (!url && m.seq != null) {
      try {
        const page = await call(
          api.GET('/api/chat/{session_id}', { params: { path: { session_id: sessionId }, query: { limit: 1, before: m.seq + 1 } } }),
        );
        url = page.history[0]?.audio_url ?? null;
        if (url) update(m.id, (x) => ({ ...x, audio_url: url }));
      } catch (err) {
        return report(err);
      }
    }
    if (url) player().playUrl(m.id, url);
  };

  const name = state.session ? personaName(state.session.persona_id, personas) : null;
  return (
    <section class="conversation" aria-labelledby="conversation-title">
      <h2 id="conversation-title" class="conversation-title">
        {name ?? 'Default voice'}
        {state.session && <span class="hint"> speaks as {state.session.voice_id}</span>}
      </h2>
      <div ref={log} class="log" role="log" aria-label="Messages" tabIndex={0} aria-busy={sending ? 'true' : undefined}>
        <div ref={top} class="sentinel" />
        {state.hasMore && (
          <button type="button" class="older" disabled={loadingOlder} onClick={() => void loadOlder()}>
            {loadingOlder ? 'Loading older messages…' : 'Load older messages'}
          </button>
        )}
        {state.session && state.messages.length === 0 && <p class="hint empty">Say something to start the conversation.</p>}
        {state.messages.map((m) =>
          m.role === 'user' ? (
            <article key={m.id} class="message user" aria-label="You">
              <p class="plain">{m.content}</p>
            </article>
          ) : (
            <Reply
              key={m.id}
              message={m}
              speaker={name ?? 'Assistant'}
              playing={playerState.track === m.id}
              failed={playerState.failed.has(m.id)}
              onPlay={() => void play(m)}
            />
          ),
        )}
      </div>
      <Composer value={draft} sending={sending} onChange={setDraft} onSend={() => void send()} />
    </section>
  );
}

interface ReplyProps {
  message: UiMessage;
  speaker: string;
  playing: boolean;
  failed: boolean;
  onPlay(): void;
}

function ReplyView({ message, speaker, playing, failed, onPlay }: ReplyProps) {
  const notReady = !message.streaming && (failed || message.audio_url === null);
  return (
    <article class={`message model${message.streaming ? ' streaming' : ''}`} aria-label={speaker}>
      <Markdown text={message.content} />
      {message.streaming && message.content === '' && <p class="hint">Writing…</p>}
      <div class="audio">
        {playing ? (
          <button type="button" class="play" onClick={() => player().stop()}>
            Stop
          </button>
        ) : notReady ? (
          <>
            <span class="hint">Audio not ready</span>
            <button type="button" class="play" onClick={onPlay}>
              Try audio again
            </button>
          </>
        ) : (
          <button type="button" class="play" onClick={onPlay}>
            Play
          </button>
        )}
      </div>
    </article>
  );
}

// While a reply streams, the conversation renders once per frame; the replies that did not change
// skip their markdown. onPlay is left out of the comparison: it is a new closure on every render,
// and what it does depends only on the message, which is compared.
const Reply = memo(
  ReplyView,
  (a, b) => a.message === b.message && a.speaker === b.speaker && a.playing === b.playing && a.failed === b.failed,
);

/** Enter sends; Shift+Enter is a new line (and so is Enter while an input method composes). */
function Composer({ value, sending, onChange, onSend }: { value: string; sending: boolean; onChange(v: string): void; onSend(): void }) {
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        onSend();
      }}
    >
      <label for="message" class="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        rows={2}
        placeholder="Write a message. Enter sends, Shift+Enter starts a new line."
        value={value}
        onInput={(e) => onChange(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            onSend();
          }
        }}
      />
      <button type="submit" class="primary" disabled={sending || !value.trim()}>
        Send
      </button>
    </form>
  );
}
