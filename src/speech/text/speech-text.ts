// Turns an LLM reply (markdown) into plain text for a speech engine.
//
// The reply is parsed with mdast-util-from-markdown (CommonMark and GFM) and the tree is walked:
// line-based rules could not follow nesting (a list in a quote, code in a list item), setext headings
// or reference links. What the walk does, and why:
// - Code blocks (fenced, indented, <pre>), images, rules, link and footnote definitions mean nothing
//   read aloud, so they are dropped. Inline code keeps its words: it is often a name the user needs.
// - Links keep their label. A URL, bare or as a label, is spoken as its host name ("example.com").
// - HTML comments, <script> and <style> are dropped. Within a paragraph only tags with known HTML
//   names are removed (their text stays), because markdown parses "Array<string>" and "x<y and z>w"
//   as tags too. An HTML block is all markup: every tag goes, and what is left is read as markdown,
//   since models write markdown inside <div> or <details>.
// - <think>, <thinking> and <reasoning> blocks are not markdown; they are cut from the text before
//   parsing (see dropReasoning).
// - Each paragraph, heading, table row and HTML block ends as a sentence, so the engine pauses; one
//   with no letter or digit is dropped. Nesting is otherwise flattened: a quoted list reads as a list.
// - Markdown leaves what it cannot match as text: "**unclosed", a lone backtick, the "[" of a link
//   whose "](url)" has not arrived yet. Said aloud those are noise, and while a reply streams they
//   are the not-yet-matched half of markup, so they are dropped from text (see cleanText): then the
//   speech of a paragraph's start is the start of the paragraph's speech, which is what lets a
//   streaming speaker say a sentence before the paragraph is complete (segmenter.ts). Emphasis marks
//   inside a word (snake_case, 5*4) or between spaces (2 * 3) are kept; an escaped one ("\*") is text.
//   "[label][ref]" without a definition (or whose definition has not arrived yet) reads as its label,
//   and "[^1]" without its note is dropped.
// Limits:
// - What is still half-parsed when a sentence ends inside it cannot be known yet: a link title, an
//   image description, an HTML tag or a code span that holds a sentence end reads as text until the
//   construct closes (a streaming speaker may have said that sentence by then). A delimiter written
//   as a character reference ("&#42;") is dropped like a stray one.
// - A reply that starts mid-reasoning is recognised only by its closing tag, so a prefix of it
//   cut before that tag reads the reasoning.
// - The parser is linear on ordinary text but not on some crafted input. Its worst case is many
//   container markers opening on one line ("- - - … x": 8,000 characters took 6 s), so a run of more
//   than MAX_MARKERS_ON_A_LINE of them is cut to its last few first: no prose nests that deep.
//   Thousands of emphasis delimiters still cost about 0.1 ms each (8,000 took 0.9 s).
import type { PhrasingContent, RootContent, TableRow, Text } from 'mdast';
import { fromMarkdown, type Extension, type Options } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';

/** Plain speech text for a reply; '' when nothing in it is worth saying (e.g. only code). */
export function toSpeechText(reply: string): string {
  return speechBlocks(reply).join(' ');
}

/**
 * The speech of a reply, one entry per unit that can be spoken on its own, in order: each
 * top-level paragraph, heading or HTML block; each item of a top-level list (with all that is
 * nested in it); each row of a top-level table. A block quote is transparent: its blocks give
 * entries as if unquoted. Blocks with nothing to say (code, rules, images) give no entry.
 *
 * Entries follow the parse of the text so far, so as a reply grows usually only its last entry
 * changes; a streaming speaker can say every entry but the last.
 */
export function speechBlocks(reply: string): string[] {
  return speechSoFar(reply).blocks;
}

/** The speech of the part of a reply that has arrived. */
export interface SpeechSoFar {
  /** speechBlocks() of that text. */
  blocks: string[];
  /**
   * How many of the blocks, from the first, no text appended later can change (within the limits of
   * markdown: a setext underline or a table's delimiter row rewrites the lines above it). Every block
   * but the last; the last too once a unit with nothing to say (code, a rule, an image) has begun
   * after it and the line it begins on is complete, since a unit's kind is known at the end of its
   * first line ("\n#" may still become "\n#hashtag", which joins the paragraph above).
   */
  settled: number;
}

export function speechSoFar(text: string): SpeechSoFar {
  const markdown = flattenDeepNesting(dropReasoning(withoutArriving(text.replace(/\r\n?/g, '\n'))));
  const lastLineStart = markdown.lastIndexOf('\n') + 1;
  const blocks: string[] = [];
  let settled = 0;
  for (const unit of flatten(parse(markdown, MARKDOWN), opensIntoUnits)) {
    const speech = unitSpeech(unit);
    if (isSpeakable(speech)) {
      settled = blocks.length;
      blocks.push(speech);
    } else if ((unit.position?.start.offset ?? lastLineStart) < lastLineStart) {
      settled = blocks.length;
    }
  }
  return { blocks, settled };
}

// The end of a text that is a link destination, an image, a reference label or a footnote mark still
// arriving ("](https://exam", "![a ca", "][re", "[^"), or a run of delimiters that may still grow ("~" of "~~",
// "*" of "**"). Half of a destination would be read as text, and GFM would even link "https://exam"
// and read "exam", with a letter that may look like a new sentence; a run that grows can pair with
// another far back ("~5 … ~" is struck through, "~5 … ~~" is not). At the end of a complete reply
// the same markup is broken or closes emphasis, and says nothing either.
// A destination has no spaces and balanced parentheses; a description or label is on one line.
const DESTINATION_SO_FAR = String.raw`\((?:[^\s()]|\([^\s()]*\))*(?:\([^\s()]*)?`;
const ARRIVING = new RegExp(
  String.raw`(?:!\[[^\]\n]*(?:\](?:${DESTINATION_SO_FAR})?)?|\]${DESTINATION_SO_FAR}|\]\[[^\]\n]*|\[\^[^\]\s]*|[*_~\x60]+)$`,
);
// What arrives is short. Looking no further back keeps this linear however the text is crafted
// (each start of a match is tried to the end): a longer destination is read as text.
const ARRIVING_REACH = 1000;

function withoutArriving(text: string): string {
  const from = Math.max(0, text.length - ARRIVING_REACH);
  const match = ARRIVING.exec(text.slice(from));
  return match ? text.slice(0, from + match.index) : text;
}

// The parser resolves "\*" to "*" before cleanText sees the text, which would then take the escaped
// star for a stray delimiter. So an escaped delimiter enters the text as a private-use stand-in,
// which cleanText leaves alone and inlineText turns back.
const DELIMITERS = '*_`[]~';
const FIRST_STAND_IN = 0xe000;
const STAND_IN = /[\uE000-\uE005]/g;
const KEEP_ESCAPED_DELIMITERS: Extension = {
  exit: {
    characterEscapeValue(token) {
      const node = this.stack.pop() as Text;
      const char = this.sliceSerialize(token);
      const index = DELIMITERS.indexOf(char);
      node.value += index < 0 ? char : String.fromCharCode(FIRST_STAND_IN + index);
      node.position!.end = { line: token.end.line, column: token.end.column, offset: token.end.offset };
    },
  },
};
const restoreEscaped = (text: string): string =>
  text.replace(STAND_IN, (standIn) => DELIMITERS.charAt(standIn.charCodeAt(0) - FIRST_STAND_IN));

const MARKDOWN: Options = { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown(), KEEP_ESCAPED_DELIMITERS] };
// For the text left in an HTML block once its tags are gone: whatever still looks like a tag there
// ("<a <b>>" less "<b>") is text, and this keeps it from being parsed as HTML again.
const MARKDOWN_WITHOUT_HTML: Options = {
  extensions: [gfm(), { disable: { null: ['htmlFlow', 'htmlText'] } }],
  mdastExtensions: [gfmFromMarkdown(), KEEP_ESCAPED_DELIMITERS],
};

function parse(markdown: string, options: Options): RootContent[] {
  try {
    return fromMarkdown(markdown, options).children;
  } catch (error) {
    // The parser recurses once per level of nesting and runs out of stack some thousands of levels
    // deep ("- - - - …"). Such a reply is not prose: it reads as nothing rather than failing.
    if (error instanceof RangeError) return [];
    throw error;
  }
}

const opensIntoUnits = (node: RootContent): boolean =>
  node.type === 'blockquote' || node.type === 'list' || node.type === 'table';
const isContainer = (node: RootContent): boolean => opensIntoUnits(node) || node.type === 'listItem';
const isInlineContainer = (node: RootContent): boolean =>
  ['emphasis', 'strong', 'delete', 'link', 'linkReference'].includes(node.type);

/**
 * The nodes in order, each one that `open` accepts replaced by its children, at any depth. A loop
 * rather than recursion, since markdown can nest deeply ("> > > …", "***…").
 */
function flatten(nodes: readonly RootContent[], open: (node: RootContent) => boolean): RootContent[] {
  const flat: RootContent[] = [];
  const stack = [...nodes].reverse();
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if ('children' in node && open(node)) {
      for (const child of [...node.children].reverse()) stack.push(child);
    } else {
      flat.push(node);
    }
  }
  return flat;
}

const unitSpeech = (unit: RootContent): string => sentences([unit]).join(' ');

/** The sentences of some blocks, nesting flattened: a quoted list reads as a list. */
function sentences(blocks: readonly RootContent[]): string[] {
  return flatten(blocks, isContainer).flatMap(leafSentences).filter(isSpeakable);
}

function leafSentences(block: RootContent): string[] {
  switch (block.type) {
    case 'paragraph':
    case 'heading':
      return [endSentence(tidy(phrasingText(block.children)))];
    case 'tableRow':
      return [rowSentence(block)];
    case 'html':
      return htmlBlockSentences(block.value);
    default:
      return []; // code, thematicBreak, definition, footnoteDefinition
  }
}

const isSpeakable = (sentence: string): boolean => /[\p{L}\p{N}]/u.test(sentence);

function rowSentence(row: TableRow): string {
  const cells = row.children.map((cell) => tidy(phrasingText(cell.children)));
  return endSentence(cells.filter((cell) => cell !== '').join(', '));
}

function phrasingText(nodes: readonly PhrasingContent[]): string {
  return withoutRawElements(flatten(nodes, isInlineContainer)).map(inlineText).join('');
}

function inlineText(node: RootContent): string {
  switch (node.type) {
    case 'text':
      return restoreEscaped(cleanText(node.value));
    case 'inlineCode':
      return node.value;
    case 'break':
      return ' ';
    case 'html':
      return inlineHtml(node.value);
    default:
      return ''; // image, imageReference, footnoteReference
  }
}

// Markdown leaves these as text; to a listener they are still markup.
const URL_IN_TEXT = /\b(?:https?|ftp):\/\/[^\s<>"]*[^\s<>".,;:!?)\]]/gi;
const MAILTO = /\bmailto:(?=[^\s@]+@)/gi;
// No "[" inside the brackets, so that a run of "[[[[" costs linear time.
const UNRESOLVED_FOOTNOTE = /\[\^[^[\]\s]+\]/g;
// The "][ref]" of "[label][ref]": the label stays, whether or not emphasis splits it off.
const UNRESOLVED_REFERENCE = /\]\[[^[\]]*\]/g;
// Delimiters that matched nothing (see the module comment). A bracket becomes a space, so that a
// citation reads "capital 1" rather than "capital1"; tidy() takes the extra spaces out.
const BRACKET = /[[\]]/g;
const BACKTICKS = /`+/g;
// A single tilde is kept: it is "about" in "~5 minutes" more often than strikethrough.
const EMPHASIS_RUN = /\*+|_+|~~+/g;
const WORD_CHAR = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;

function cleanText(text: string): string {
  return text
    .replace(URL_IN_TEXT, hostOf)
    .replace(MAILTO, '')
    .replace(UNRESOLVED_FOOTNOTE, '')
    .replace(UNRESOLVED_REFERENCE, ' ')
    .replace(BRACKET, ' ')
    .replace(BACKTICKS, '')
    .replace(EMPHASIS_RUN, strayEmphasis);
}

/**
 * '' for a run of emphasis marks that could open or close emphasis, the run itself when it is part of
 * a word (snake_case, 5*4) or stands between spaces (2 * 3). The edge of a text node counts as
 * neither: a run there touches other markup.
 */
function strayEmphasis(run: string, offset: number, text: string): string {
  const before = text.charAt(offset - 1);
  const after = text.charAt(offset + run.length);
  const both = (kind: RegExp) => kind.test(before) && kind.test(after);
  return both(WORD_CHAR) || both(SPACE) ? run : '';
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^www\./, '');
  } catch {
    return '';
  }
}

const TAG = /^<(\/?)([A-Za-z][A-Za-z0-9-]*)/;
const tagOf = (html: string): { name: string; closing: boolean } | undefined => {
  const match = TAG.exec(html);
  return match ? { name: (match[2] ?? '').toLowerCase(), closing: match[1] === '/' } : undefined;
};

// Elements whose content is not text to read; markdown sees only their tags as HTML in a paragraph.
const RAW_ELEMENTS = new Set(['script', 'style']);

/** The nodes of a paragraph less any <script>…</script> or <style>…</style> (unclosed: to its end). */
function withoutRawElements(nodes: readonly RootContent[]): RootContent[] {
  const kept: RootContent[] = [];
  let skippingTo: string | undefined;
  for (const node of nodes) {
    const tag = node.type === 'html' ? tagOf(node.value) : undefined;
    if (skippingTo !== undefined) {
      if (tag?.closing && tag.name === skippingTo) skippingTo = undefined;
    } else if (tag && !tag.closing && RAW_ELEMENTS.has(tag.name)) {
      skippingTo = tag.name;
    } else {
      kept.push(node);
    }
  }
  return kept;
}

// Only known names, so that prose such as "x<y and z>w" or Array<string> is left alone.
const KNOWN_TAGS = new Set(
  (
    'a abbr article aside audio b big blockquote body br button caption center cite code dd del details dfn div dl ' +
    'dt em figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd ' +
    'label li main mark nav ol p picture pre q s samp section small source span strike strong sub summary sup svg ' +
    'script style table tbody td textarea tfoot th thead time tr tt u ul var video'
  ).split(' '),
);

/** One piece of HTML within a paragraph: a tag, a comment, a declaration. */
function inlineHtml(html: string): string {
  const tag = tagOf(html);
  if (!tag) return ''; // <!-- comment -->, <!DOCTYPE>, <?pi?>
  if (tag.name === 'br') return ' ';
  return KNOWN_TAGS.has(tag.name) ? '' : html;
}

const HTML_NOT_TEXT = /<!--[\s\S]*?(?:-->|$)|<(script|style|pre)\b[\s\S]*?(?:<\/\1\s*>|$)|<[!?][^>]*>?/gi;
const ANY_TAG = /<\/?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?\/?>/g;
// Tags that sit inside a line of text; any other tag breaks the text into paragraphs.
const INLINE_TAGS = new Set(
  'a abbr b bdi bdo big cite code del dfn em font i img ins kbd label mark q s samp small span strike strong sub sup time tt u var wbr'.split(' '),
);

/** An HTML block: its tags and code go, its text is read as markdown (without HTML). */
function htmlBlockSentences(html: string): string[] {
  const text = html
    .replace(HTML_NOT_TEXT, '\n\n')
    .replace(ANY_TAG, (_, name: string) => {
      const lower = name.toLowerCase();
      if (lower === 'br') return ' ';
      return INLINE_TAGS.has(lower) ? '' : '\n\n';
    })
    .replace(/^[ \t]+/gm, ''); // HTML indentation is not markdown's: no indented code here
  return sentences(parse(text, MARKDOWN_WITHOUT_HTML));
}

function tidy(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/ +([.,;:!?])/g, '$1')
    .trim();
}

function endSentence(s: string): string {
  if (s === '' || /[.!?…。！？:;]["'”’»)\]]*$/.test(s)) return s;
  return s.endsWith(',') ? `${s.slice(0, -1)}.` : `${s}.`;
}

const MAX_MARKERS_ON_A_LINE = 16;
// A run of list or quote markers at the start of a line, each opening a container inside the last.
const DEEP_NESTING = new RegExp(`^(?:[ \\t]*(?:[-*+>]|\\d{1,9}[.)])[ \\t]+){${MAX_MARKERS_ON_A_LINE},}`, 'gm');

/** Cuts each run of more than MAX_MARKERS_ON_A_LINE container markers to that many. */
function flattenDeepNesting(text: string): string {
  return text.replace(DEEP_NESTING, (run) => {
    const markers = run.match(/[ \t]*(?:[-*+>]|\d{1,9}[.)])[ \t]+/g) ?? [];
    return markers.slice(-MAX_MARKERS_ON_A_LINE).join('');
  });
}

const REASONING_TAGS = 'think|thinking|reasoning';

function dropReasoning(text: string): string {
  // Some models put the opening tag in the prompt template, so the reply starts mid-reasoning and
  // the closing tag ends a line of its own. A closing tag inside a sentence ("the </think> tag") is
  // prose, not the end of reasoning.
  const orphanClose = new RegExp(`^(?:(?!<(?:${REASONING_TAGS})>)[\\s\\S])*?</(?:${REASONING_TAGS})>[ \\t]*(?=\\n|$)`, 'i');
  // An opening tag counts only at the start of a line; an unclosed block runs to the end.
  const block = new RegExp(`(^|\\n)[ \\t]*<(${REASONING_TAGS})>[\\s\\S]*?(?:</\\2>|$)`, 'gi');
  // What is left of the tags is markup, not words; a tag quoted as `code` stays.
  const strayTag = new RegExp(`(?<!\`)</?(?:${REASONING_TAGS})>(?!\`)`, 'gi');
  return text.replace(orphanClose, '').replace(block, '$1').replace(strayTag, '');
}
