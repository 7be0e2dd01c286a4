// SPEECH_MAX_CHARS: the most speech characters synthesized for one reply. A reply of millions of
// characters would otherwise hold the engine (and the bill) for minutes; nobody listens that long, and
// the text is all there to read. The audio stops at a natural pause and says so.
//
// Lengths are UTF-16 code units, as splitForSpeech counts them (never fewer than Polly bills), and
// the note is inside the cap, so the cap is exactly what one reply can cost.

/** Spoken after a reply's speech is cut, so that the listener knows the audio stopped on purpose. */
export const CUT_NOTE = 'The rest of this reply is in the text only.';

// After . ! ? … (and closing quotes or brackets) before a space, or a CJK full stop.
const SENTENCE_END = /[.!?…]["'”’»)\]]*(?=\s)|[。！？]["'”’»)\]]*/gu;
// After , ; : or a dash before a space, or a dash written between two words.
const CLAUSE_END = /[,;:—–](?=\s)|[—–](?=\S)/gu;
// After the last letter of a word.
const WORD_END = /\S(?=\s)/gu;

// How far back from the limit a cut may go: a fifth of the room, at most 1,000 characters.
const lookbackFor = (room: number): number => Math.min(1000, Math.floor(room / 5));

export interface CapOptions {
  /** Said after the cut; default CUT_NOTE. */
  note?: string;
  /**
   * The text is only the start of the speech (the rest was never converted): it is cut at a boundary
   * near its end and gets the note even when it fits.
   */
  partial?: boolean;
}

/**
 * The text itself when it has at most maxChars characters; otherwise its start, cut where it is least
 * jarring, then the note, together at most maxChars. The cut is the last sentence end within the last
 * fifth of the room (at most 1,000 characters back), else the last clause end there, else the last
 * word end there, else exactly at the limit, never inside a surrogate pair.
 */
export function capSpeech(text: string, maxChars: number, options: CapOptions = {}): string {
  const { note = CUT_NOTE, partial = false } = options;
  // The note, a space before it, and an ellipsis when the cut is not at a sentence end.
  const room = maxChars - note.length - 2;
  if (!Number.isInteger(maxChars) || room < 1) {
    throw new RangeError(`maxChars must be an integer of at least ${note.length + 3}, got ${maxChars}`);
  }
  if (!partial && text.length <= maxChars) return text;

  const limit = Math.min(room, text.length);
  const from = Math.max(0, limit - lookbackFor(room));
  // A space after a partial text, so that punctuation at its very end counts; not for words, since
  // its last word may be the first half of one.
  const padded = `${text} `;
  const sentence = lastCut(padded, SENTENCE_END, from, limit);
  if (sentence !== undefined) return `${text.slice(0, sentence)} ${note}`;
  const cut = lastCut(padded, CLAUSE_END, from, limit) ?? lastCut(text, WORD_END, from, limit) ?? hardCut(text, limit);
  // Trailing punctuation of a clause would read oddly before the ellipsis ("end,…").
  const kept = text.slice(0, cut).replace(/[\s,;:—–]+$/u, '');
  return kept === '' ? note : `${kept}… ${note}`;
}

/**
 * The offset before which capSpeech(text, maxChars, { note }) never cuts, whatever the text: a speaker
 * that says the start of a text before its end is known can say what ends before it. (With partial,
 * for a text longer than the room, maxChars less the note and 2.)
 */
export function earliestCut(maxChars: number, note = CUT_NOTE): number {
  const room = maxChars - note.length - 2;
  return room - lookbackFor(room);
}

/** The end of the last match of `boundary` that ends within [from, to], if any. */
function lastCut(text: string, boundary: RegExp, from: number, to: number): number | undefined {
  // One character past `to`, for the lookaheads; a match that ends past `to` is skipped.
  const window = text.slice(from, to + 1);
  let last: number | undefined;
  for (const match of window.matchAll(boundary)) {
    const end = from + match.index + match[0].length;
    if (end <= to) last = end;
  }
  return last;
}

function hardCut(text: string, at: number): number {
  return /[\uD800-\uDBFF]/.test(text.charAt(at - 1)) ? at - 1 : at;
}
