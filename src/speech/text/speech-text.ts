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
// Limits:
// - Markdown leaves what it cannot match as text, and so does this: "**unclosed" keeps its stars.
//   Two leftovers are still cleaned from text: "[label][ref]" without a definition (or whose
//   definition has not arrived yet, when streaming) reads as its label, and "[^1]" without its
//   note is dropped.
// - A reply that starts mid-reasoning is recognised only by its closing tag, so a prefix of it
//   cut before that tag reads the reasoning.
// - The parser is linear on ordinary text but not on some crafted input. Its worst case is many
//   container markers opening on one line ("- - - … x": 8,000 characters took 6 s), so a run of more
//   than MAX_MARKERS_ON_A_LINE of them is cut to its last few first: no prose nests that deep.
//   Thousands of emphasis delimiters still cost about 0.1 ms each (8,000 took 0.9 s).
import type { PhrasingContent, RootContent, TableRow } from 'mdast';
import { fromMarkdown, type Options } from 'mdast-util-from-markdown';
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
  const markdown = flattenDeepNesting(dropReasoning(reply.replace(/\r\n?/g, '\n')));
  return flatten(parse(markdown, MARKDOWN), opensIntoUnits).map(unitSpeech).filter(isSpeakable);
}

const MARKDOWN: Options = { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] };
// For the text left in an HTML block once its tags are gone: whatever still looks like a tag there
// ("<a <b>>" less "<b>") is text, and this keeps it from being parsed as HTML again.
const MARKDOWN_WITHOUT_HTML: Options = {
  extensions: [gfm(), { disable: { null: ['htmlFlow', 'htmlText'] } }],
  mdastExtensions: [gfmFromMarkdown()],
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
      return cleanText(node.value);
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
const UNRESOLVED_REFERENCE = /\[([^[\]]+)\]\[[^[\]]*\]/g;

function cleanText(text: string): string {
  return text
    .replace(URL_IN_TEXT, hostOf)
    .replace(MAILTO, '')
    .replace(UNRESOLVED_FOOTNOTE, '')
    .replace(UNRESOLVED_REFERENCE, '$1');
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
