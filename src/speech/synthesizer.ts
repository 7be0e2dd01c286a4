// The narrow interfaces of a speech engine: it speaks text in a voice, and it knows its voices.

export interface Synthesizer {
  /**
   * Names the engine and output format, e.g. "polly-neural-mp3" or "espeak-v1-mp3". It goes into the
   * default audio key prefix, so that audio from one engine is never served for another.
   */
  readonly id: string;
  /** The most characters one synthesize() call accepts (Polly bills at most 3000 per call). */
  readonly maxChars: number;
  /**
   * How many synthesize() calls the engine serves at once without making any of them wait (eSpeak's
   * worker threads, Polly's concurrency quota). The speech cache keeps at most this many in flight.
   */
  readonly concurrency: number;
  /** MP3 bytes for one piece of plain speech text of at most maxChars characters. */
  synthesize(text: string, voiceId: string): Promise<Uint8Array>;
}

/** A voice, in the shape of GET /api/voices. */
export interface Voice {
  id: string;
  name: string;
  gender: 'Female' | 'Male';
  language_code: string;
  language_name: string;
  engines: string[];
}

export interface VoiceCatalogue {
  list(): Promise<Voice[]>;
  /**
   * Null when the engine can speak with this voice, otherwise a sentence for the client that names
   * the voice and says why not (unknown, or not available on the configured engine).
   */
  problemWith(voiceId: string): Promise<string | null>;
}
