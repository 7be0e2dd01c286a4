// Cuts the speech of a reply into segments while the reply is still arriving, so that a streamed
// reply is heard after its first sentence instead of after its last word. Each segment is one engine
// call. A reply posted whole goes through the same code (segmentSpeech), so that it is cut, billed and
// stored exactly as the same reply streamed.
//
// How, and why:
// 1. The text so far is parsed whole (speechSoFar, speech-text.ts): markdown cannot be read line by
//    line, since a later line can close a code fence, a list item or a link. Parsing on every delta
//    is quadratic, so the text is parsed again only once it has grown by an eighth since the last
//    parse (geometric growth: all parses together cost about nine parses of the whole reply), and at
//    end(). The price is that a sentence end is noticed up to an eighth of the text late. Measured on
//    a 20,000-character reply (prose, lists, code, tables, quotes) pushed in 5-character deltas, one
//    parse of the whole reply taking 60 ms on the machine used: 4,000 pushes cost 120 s parsing on
//    every push, 0.6 s with the eighth rule (58 parses).
// 2. Only what no later text can change is said. Every block of the speech but the last is final,
//    the last too once another unit has begun after it (SpeechSoFar.settled). Within the last block a
//    sentence is final once the next sentence has begun with a letter (perhaps after digits or an
//    opening quote): where a sentence ends is decided by looking ahead to the next letter, and half-
//    parsed markup does not start with one. speech-text.ts drops the markup that has not matched yet
//    ("**", "`", "[", "](https://exam"), so the start of a paragraph reads as the start of its speech
//    and nothing half-parsed is said. Sentences are Intl.Segmenter's (locale-independent rules; it
//    keeps "e.g. this" and "wait... what" in one sentence, which chunk-text.ts's regex splits), joined
//    again after the abbreviations and initials it takes for ends ("Dr. Smith", "J. R. R. Tolkien").
// 3. The speech is capped as capSpeech(speech || NOTHING_TO_READ, maxSpeechChars) caps the whole
//    reply's speech. capSpeech never cuts before earliestCut(maxSpeechChars), so sentences that end
//    before it are said at once; the rest waits until the speech outgrows the cap (the cut is known
//    then) or the reply ends. Of a reply longer than maxSpeechChars * PARSE_FACTOR only the start is
//    parsed, as before streaming.
// 4. Sentences are packed into segments (createPacker): the first short, the next ones growing.
//
// Limits:
// - Segments are identical however the reply is split into deltas, unless markdown rewrites text it
//   has parsed once later text arrives and a sentence of that text was said meanwhile: a '*' inside
//   a word (5*4) that a later '*' pairs with as emphasis, a paragraph line with sentence ends that a
//   table's delimiter row turns into a header row, a link title, image description, HTML tag or code
//   span still open across a sentence end (speech-text.ts), or a reply that starts mid-reasoning and
//   is known as such only at its closing </think>. Fuzzing with random markdown (thousands of
//   replies, random splits) found only such cases; the property test covers the common ones.
// - Joined with ' ', the segments are the reply's speech as the pipeline defined it before streaming,
//   capSpeech(toSpeechText(reply) || NOTHING_TO_READ, maxSpeechChars), modulo whitespace, with three
//   differences: sentences not separated by a space (CJK) get one, which the cap counts; of a reply
//   longer than the parse limit the unfinished last sentence is dropped, where capSpeech would cut in
//   its last fifth; and what was said is never taken back, should capSpeech cut into the punctuation
//   that ends it (it would trim "Do it now:" to "Do it now…").
import { capSpeech, CUT_NOTE, earliestCut } from './cap-speech.ts';
import { splitForSpeech } from './chunk-text.ts';
import { speechSoFar } from './speech-text.ts';

/** Spoken for a reply with nothing to read aloud (only code, say), so that its audio still plays. */
export const NOTHING_TO_READ = 'This reply has nothing to read aloud.';

export interface SegmenterOptions {
  /** Longest segment: the engine's piece limit (Polly 3000; a test may use small values). */
  maxChars: number;
  /** SPEECH_MAX_CHARS: the most speech characters for one reply, CUT_NOTE included. */
  maxSpeechChars: number;
}

export interface SpeechSegmenter {
  /** Adds the next delta of the reply; returns the segments that became final, in order (often none). */
  push(delta: string): string[];
  /** The reply is complete: returns the remaining segments. */
  end(): string[];
}

// Markdown is parsed on the main thread, in time that grows with the text (1.1 s for a
// 2,000,000-character reply). Of a reply this many times longer than the cap only the start is parsed,
// which still fills the cap unless most of that start is code or markup.
const PARSE_FACTOR = 4;
const REPARSE_GROWTH = 1 / 8;

// Segment sizes. Each segment is one engine call, and the listener waits for the first one, so it is
// one sentence: synthesis takes time in proportion to the text. A first sentence longer than
// LONG_FIRST_SENTENCE is cut after its first clause that leaves at least FIRST_CLAUSE_MIN characters,
// and said as soon as that clause is settled. While a segment plays (100 characters are about 7 s of
// speech), the next is synthesized in a fraction of that, so each may be twice as long as the last,
// up to the engine's limit: fewer calls, each with its own round trip (Polly's is about 150 ms), and
// fewer joins in the audio. Doubling keeps the audio flowing as long as the model writes faster than
// speech is spoken (about 15 characters a second). Growing to the engine's limit rather than stopping
// short of it matters most to the plain POST, which synthesizes every segment at once, at most four
// at a time for one reply: a 9,000-character reply is 8 Polly calls rather than 12 with growth
// stopped at 1,000, and its POST took 1.44 times as long as a 2,000-character one's rather than 1.96
// (bench scenario 4, `npm run bench -- --smoke --pairs 8`; 1.25 with the 3,000-character pieces that
// came before segments, when a 2,000-character reply was one call).
const LONG_FIRST_SENTENCE = 100;
const FIRST_CLAUSE_MIN = 20;
const SECOND_TARGET = 100;

// After , ; : or a dash, before a space: where segment 0 may end inside a long first sentence.
const CLAUSE_END = /[,;:—](?=\s)/gu;
// A space then a letter: the text before it is settled (see the module comment, point 2).
const SETTLED = /\s(?=\p{L})/gu;
// The start of a sentence that decides the end of the one before: a letter, maybe after digits or an
// opening quote ("10 people came", "“Why?” she asked"); not "(" or "<", which half-parsed markup
// leaves.
const DECIDING_START = /^[\p{N}\p{Pi}"'\s]*\p{L}/u;
// A sentence "end" that ends no sentence: a title, a common abbreviation, initials ("J.", "U.S."),
// lower-case abbreviations ("e.g.", "p.m.").
const ABBREVIATIONS = 'Mr|Mrs|Ms|Mx|Dr|Prof|Sr|Jr|St|Mt|Gen|Capt|Lt|Col|Sgt|Rev|vs|cf|approx';
const NOT_AN_END = new RegExp(String.raw`(?:^|[\s(])(?:(?:${ABBREVIATIONS})\.|(?:\p{Lu}\.)+|(?:\p{Ll}\.){2,})\s*$`, 'u');
// Fixed locale: the server's must not change the cuts (and so the stored audio).
const SENTENCES = new Intl.Segmenter('en', { granularity: 'sentence' });

/** Where a sentence lies, in a block's speech or in the speech so far. */
interface Span {
  start: number;
  end: number;
}

export function createSegmenter({ maxChars, maxSpeechChars }: SegmenterOptions): SpeechSegmenter {
  // Both throw on a bad limit: at creation rather than on the first reply long enough to need it.
  splitForSpeech('', maxChars);
  capSpeech('', maxSpeechChars);
  const parseLimit = maxSpeechChars * PARSE_FACTOR;
  const sayAtOnce = earliestCut(maxSpeechChars);
  const segments: string[] = [];
  const packer = createPacker(maxChars, segments);

  let text = '';
  let parsedLength = 0;
  let done = false; // the speech is complete: the reply ended, outgrew the cap or the parse limit
  // The final sentences so far, joined by ' ', and where each lies in it.
  let speech = '';
  const sentences: Span[] = [];
  // Reading position in speechSoFar().blocks: the first block not wholly in `speech`, and how much of
  // it is.
  let block = 0;
  let blockTaken = 0;
  // How much of `speech` went to the packer, and the first sentence not wholly there. Before the first
  // sentence is final, `said` may already hold its first clause.
  let said = 0;
  let nextSentence = 0;

  // The last parse: end() right after a push that parsed (a whole reply, one push) parses nothing again.
  let parsed: { prefix: string; soFar: ReturnType<typeof speechSoFar> } | undefined;

  /** Parses `prefix` and adds the sentences no later text can change to `speech`. */
  function take(prefix: string, complete: boolean): void {
    if (parsed?.prefix !== prefix) parsed = { prefix, soFar: speechSoFar(prefix) };
    const { blocks, settled } = parsed.soFar;
    for (; block < blocks.length; block++, blockTaken = 0) {
      const blockSpeech = blocks[block]!;
      const spans = sentenceSpans(blockSpeech);
      const whole = complete || block < settled;
      const final = whole ? spans.length : decided(spans, blockSpeech);
      for (const span of spans.slice(0, final)) {
        if (span.end <= blockTaken) continue;
        // Only when markdown rewrote what was taken (see Limits): go on from the start of the word
        // the old place falls in, so that nothing is lost and at most a word is said twice.
        const from =
          span.start >= blockTaken ? span.start : Math.max(span.start, blockSpeech.lastIndexOf(' ', blockTaken - 1) + 1);
        add(blockSpeech.slice(from, span.end).trim());
        blockTaken = span.end;
      }
      if (!whole) {
        if (speech === '' && said === 0) sayFirstClauseEarly(blockSpeech.slice(spans[0]!.start, spans[0]!.end));
        return;
      }
    }
  }

  function add(sentence: string): void {
    if (sentence === '') return;
    const start = speech === '' ? 0 : speech.length + 1;
    speech = speech === '' ? sentence : `${speech} ${sentence}`;
    sentences.push({ start, end: speech.length });
  }

  /** Segment 0 of a long first sentence that is still arriving: its first clause, once settled. */
  function sayFirstClauseEarly(firstSentence: string): void {
    let settled = 0;
    for (const match of firstSentence.matchAll(SETTLED)) settled = match.index + 1;
    const clause = firstClauseEnd(firstSentence, settled);
    if (clause !== undefined && clause < sayAtOnce) sayFirstClause(firstSentence, clause);
  }

  function sayFirstClause(firstSentence: string, clause: number): void {
    packer.add(firstSentence.slice(0, clause));
    said = clause;
  }

  /** Hands the packer every sentence that ends before `end` of `kept` (a prefix of `speech`). */
  function sayThrough(end: number, kept = speech): void {
    if (said === 0 && sentences.length > 0) {
      const first = kept.slice(0, sentences[0]!.end);
      const clause = firstClauseEnd(first, first.length);
      if (clause !== undefined && clause < end) sayFirstClause(first, clause);
    }
    for (; nextSentence < sentences.length && sentences[nextSentence]!.start < kept.length; nextSentence++) {
      const { start, end: sentenceEnd } = sentences[nextSentence]!;
      // The sentence the cut falls in ends where the kept text does, its ellipsis included.
      const last = nextSentence + 1 === sentences.length || sentences[nextSentence + 1]!.start >= kept.length;
      const stop = last ? kept.length : sentenceEnd;
      if (stop >= end) return;
      packer.add(kept.slice(Math.max(start, said), stop));
      said = stop;
    }
  }

  /** The speech is complete: says the rest of it, capped, and the note when cut. */
  function finish(partial: boolean): void {
    done = true;
    if (speech === '' && said === 0 && !partial) {
      packer.add(NOTHING_TO_READ);
    } else {
      const { kept, cut } = capped(partial);
      // Only when capSpeech cut into the punctuation that ends what was said: that stays said.
      sayThrough(Infinity, kept.startsWith(speech.slice(0, said)) ? kept : speech.slice(0, said));
      if (cut) packer.add(CUT_NOTE);
    }
    packer.flush();
  }

  /** The speech as capSpeech caps it, less the note. */
  function capped(partial: boolean): { kept: string; cut: boolean } {
    if (!partial && speech.length <= maxSpeechChars) return { kept: speech, cut: false };
    // A partial speech ends at a sentence end already: it is cut only to make room for the note.
    if (partial && speech.length + 1 + CUT_NOTE.length <= maxSpeechChars) return { kept: speech, cut: true };
    const withNote = capSpeech(speech, maxSpeechChars, { partial });
    return { kept: withNote.slice(0, -CUT_NOTE.length).trimEnd(), cut: true };
  }

  /** Says what can be said of the text so far, and finishes when the cap or the parse limit is reached. */
  function advance(complete: boolean): void {
    const partial = text.length > parseLimit;
    // Never the first half of a surrogate pair at the end of the parsed start.
    const end = partial && /[\uD800-\uDBFF]/.test(text.charAt(parseLimit - 1)) ? parseLimit - 1 : parseLimit;
    take(partial ? text.slice(0, end) : text, complete);
    parsedLength = text.length;
    sayThrough(sayAtOnce);
    if (complete || partial || speech.length > maxSpeechChars) finish(partial);
  }

  return {
    push(delta) {
      if (done) return [];
      text += delta;
      if (text.length - parsedLength >= parsedLength * REPARSE_GROWTH || text.length > parseLimit) advance(false);
      return segments.splice(0);
    },
    end() {
      if (!done) advance(true);
      return segments.splice(0);
    },
  };
}

/** The segments of a whole reply: what a reply posted without streaming speaks. */
export function segmentSpeech(reply: string, options: SegmenterOptions): string[] {
  const segmenter = createSegmenter(options);
  return [...segmenter.push(reply), ...segmenter.end()];
}

/** The sentences of a block's speech, each with the space after it. */
function sentenceSpans(blockSpeech: string): Span[] {
  const spans: Span[] = [];
  let start = 0;
  for (const { segment, index } of SENTENCES.segment(blockSpeech)) {
    const end = index + segment.length;
    if (end < blockSpeech.length && NOT_AN_END.test(segment)) continue;
    spans.push({ start, end });
    start = end;
  }
  return spans;
}

/** How many sentences, from the first, are final in a block still arriving: those followed by a deciding start. */
function decided(spans: readonly Span[], blockSpeech: string): number {
  let count = 0;
  for (const next of spans.slice(1)) {
    if (!DECIDING_START.test(blockSpeech.slice(next.start, next.end))) break;
    count++;
  }
  return count;
}

/**
 * Where segment 0 ends inside the first sentence: after its first clause of at least FIRST_CLAUSE_MIN
 * characters, when the sentence is longer than LONG_FIRST_SENTENCE. `settled`: how much of the sentence
 * no later text can change (all of it once final); both the length and the clause must lie within it.
 */
function firstClauseEnd(sentence: string, settled: number): number | undefined {
  if (settled <= LONG_FIRST_SENTENCE) return undefined;
  for (const match of sentence.matchAll(CLAUSE_END)) {
    const end = match.index + match[0].length;
    if (end >= FIRST_CLAUSE_MIN) return end < settled ? end : undefined;
  }
  return undefined;
}

/**
 * Packs units of speech (sentences, a clause, the note) into segments of at most maxChars: segment 0
 * is the first unit; each later one closes at the first unit end at which it reaches its target.
 * A unit longer than maxChars is split as splitForSpeech splits it (clause, word, then by force).
 */
function createPacker(maxChars: number, segments: string[]) {
  let current = '';
  let count = 0;
  // 1 for segment 0 (its first unit), then 100, 200, 400, ... up to maxChars.
  const target = (): number => (count === 0 ? 1 : Math.min(maxChars, SECOND_TARGET * 2 ** (count - 1)));
  const flush = (): void => {
    if (current === '') return;
    segments.push(current);
    count++;
    current = '';
  };
  return {
    add(unit: string): void {
      for (const piece of splitForSpeech(unit, maxChars)) {
        if (current !== '' && current.length + 1 + piece.length > maxChars) flush();
        current = current === '' ? piece : `${current} ${piece}`;
        if (current.length >= target()) flush();
      }
    },
    flush,
  };
}
