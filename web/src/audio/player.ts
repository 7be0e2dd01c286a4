// The page's one media element, shared by replies, streamed segments and voice previews, so that
// starting one always stops the other and there is never a second voice talking over the first.
// What plays is a track: a URL (a stored reply, a preview), or the segments of a reply that is still
// streaming, played one after another as they arrive.
import { useEffect, useState } from 'preact/hooks';

export interface SegmentQueue {
  /** Blob URLs by segment index; null for a segment whose synthesis failed (it is skipped). */
  urls: Array<string | null>;
  /** No more segments will come. */
  complete: boolean;
}

export interface PlayerState {
  /** The track playing or about to play (waiting for its next segment counts). */
  track: string | null;
  /** Tracks whose audio could not be loaded since they were last tried: "not ready". */
  failed: ReadonlySet<string>;
}

type Source = { kind: 'url'; url: string } | { kind: 'segments'; queue: SegmentQueue; next: number };

class Player {
  readonly element: HTMLAudioElement;
  private current: { track: string; source: Source } | null = null;
  private failed = new Set<string>();
  private listeners = new Set<() => void>();
  private snapshot: PlayerState = { track: null, failed: this.failed };

  constructor() {
    this.element = document.createElement('audio');
    this.element.preload = 'none';
    document.body.append(this.element);
    this.element.addEventListener('ended', () => this.advance());
    this.element.addEventListener('error', () => this.fail());
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  state(): PlayerState {
    return this.snapshot;
  }

  /** Plays a stored MP3 (a reply's audio_url, a voice preview's URL) from its start. */
  playUrl(track: string, url: string): void {
    this.failed.delete(track);
    this.start(track, { kind: 'url', url });
  }

  /** Plays a streamed reply's segments from the first, following the queue as it grows. */
  playSegments(track: string, queue: SegmentQueue): void {
    this.failed.delete(track);
    this.start(track, { kind: 'segments', queue, next: 0 });
  }

  /** The queue of a streamed track grew or completed: resume it if it was waiting. */
  segmentsChanged(track: string): void {
    if (this.current?.track === track && this.element.paused) this.advance();
  }

  stop(): void {
    this.element.pause();
    this.current = null;
    this.changed();
  }

  private start(track: string, source: Source) {
    this.element.pause();
    this.current = { track, source };
    if (source.kind === 'url') this.load(source.url);
    else this.advance();
    this.changed();
  }

  private load(url: string) {
    this.element.src = url;
    // A rejected play() is the browser's autoplay policy (no user gesture yet): nothing plays, and
    // the reply's Play button stays there to press.
    this.element.play().catch((err: unknown) => {
      if (err instanceof DOMException && err.name === 'NotAllowedError') this.stop();
    });
  }

  /** The element finished its source: the next segment, a wait for it, or the end of the track. */
  private advance() {
    const current = this.current;
    if (!current) return;
    const source = current.source;
    if (source.kind === 'segments') {
      while (source.next < source.queue.urls.length) {
        const url = source.queue.urls[source.next++];
        if (url) return this.load(url);
      }
      // Waiting for the segment after this one, still being synthesized.
      if (!source.queue.complete) return;
    }
    this.current = null;
    this.changed();
  }

  private fail() {
    // Only a failure of the source we set: stop() and src changes do not raise error events.
    if (!this.current) return;
    this.failed.add(this.current.track);
    this.current = null;
    this.changed();
  }

  private changed() {
    this.snapshot = { track: this.current?.track ?? null, failed: new Set(this.failed) };
    for (const listener of this.listeners) listener();
  }
}

let instance: Player | undefined;

/** The page's player, created with its <audio> element on first use. */
export function player(): Player {
  instance ??= new Player();
  return instance;
}

/** Re-renders the component when what plays changes. */
export function usePlayer(): PlayerState {
  const [state, setState] = useState(() => player().state());
  useEffect(() => player().subscribe(() => setState(player().state())), []);
  return state;
}
