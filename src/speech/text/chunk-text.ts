// Splits speech text into pieces that a speech engine accepts in one call (Polly bills at most 3000
// characters per call). Pieces break at sentence ends where possible, so that each call's audio ends
// on a natural pause; a sentence that is too long breaks at a clause, then between words, and a
// single word longer than the limit is cut by force.
//
// Lengths are counted in UTF-16 code units (JavaScript's length), which is never less than the
// characters Polly counts; a forced cut never splits a surrogate pair.

// After . ! ? … (and any closing quotes or brackets) followed by space; CJK full stops need no space.
const SENTENCE_END = /(?<=[.!?…]["'”’»)\]]*)\s+|(?<=[。！？])\s*/u;
// After , ; : or a dash followed by space, and right after a dash written between two words.
const CLAUSE_END = /(?<=[,;:—–])\s+|(?<=[—–])(?=[^\s—–])/u;
const WORD_GAP = /\s+/u;

const LEVELS = [SENTENCE_END, CLAUSE_END, WORD_GAP];

/** Pieces of at most maxChars characters, none empty; their join(' ') is the text, modulo whitespace. */
export function splitForSpeech(text: string, maxChars: number): string[] {
  if (!Number.isInteger(maxChars) || maxChars < 2) throw new RangeError(`maxChars must be an integer >= 2, got ${maxChars}`);
  const normalized = text.replace(/\s+/gu, ' ').trim();
  return normalized === '' ? [] : split(normalized, maxChars, 0);
}

function split(text: string, maxChars: number, level: number): string[] {
  if (text.length <= maxChars) return [text];
  const separator = LEVELS[level];
  if (!separator) return hardSplit(text, maxChars);
  const parts = text.split(separator).filter((part) => part !== '');
  if (parts.length <= 1) return split(text, maxChars, level + 1);

  // Greedy packing: consecutive parts share a piece while they fit.
  const pieces: string[] = [];
  let current = '';
  for (const part of parts) {
    if (part.length > maxChars) {
      if (current) pieces.push(current);
      const sub = split(part, maxChars, level + 1);
      // The last sub-piece stays open, so that the next short part can still join it.
      current = sub.pop() ?? '';
      pieces.push(...sub);
    } else if (current === '') {
      current = part;
    } else if (current.length + 1 + part.length <= maxChars) {
      current += ` ${part}`;
    } else {
      pieces.push(current);
      current = part;
    }
  }
  if (current) pieces.push(current);
  return pieces;
}

function hardSplit(word: string, maxChars: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < word.length) {
    let end = Math.min(start + maxChars, word.length);
    // Never leave half of a surrogate pair at the end of a piece.
    if (end < word.length && /[\uD800-\uDBFF]/.test(word.charAt(end - 1))) end -= 1;
    pieces.push(word.slice(start, end));
    start = end;
  }
  return pieces;
}
