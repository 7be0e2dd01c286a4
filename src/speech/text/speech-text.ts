// Turns an LLM reply (markdown) into plain text for a speech engine.
//
// No markdown library is installed, so this is a small hand-written, line-based pass rather than a
// CommonMark parser. Its limits, on purpose:
// - Blocks are recognised line by line: fenced code (``` and ~~~, closed by a fence of the same
//   character at least as long, or by the end of the reply), ATX and setext headings, rules, lists,
//   quotes, pipe tables, link reference definitions. Nesting is flattened: a quoted list is spoken
//   like a list.
// - An indented code block is dropped only where it cannot be a list continuation: after a blank
//   line (or at the start), outside a list, and not opening with a list marker.
// - A wrapped paragraph line that starts with "2024. " looks like an ordered list item and loses
//   its number.
// - Emphasis markers are removed when they flank a word ("**bold**", "_it_"); markers inside a
//   word are kept, so snake_case and 5*3 survive. "__init__" outside backticks reads as "init",
//   as markdown would render it.
// - URLs are spoken as their host name ("example.com"), link and image targets are never spoken,
//   images are dropped, and raw HTML tags are removed but their text is kept.
// - <think>…</think> (and <thinking>, <reasoning>) reasoning blocks are dropped when the opening
//   tag starts a line; an unclosed one runs to the end of the reply.
// Each block (paragraph, heading, list item, table row) ends as a sentence so the engine pauses.

/** Plain speech text for a reply; '' when nothing in it is worth saying (e.g. only code). */
export function toSpeechText(reply: string): string {
  const text = dropHtmlBlocks(dropReasoning(reply.replace(/\r\n?/g, '\n').replace(PRIVATE_USE, '')));
  return splitBlocks(protectEscapes(text))
    .map((block) => endSentence(cleanInline(block)))
    .filter((sentence) => /[\p{L}\p{N}]/u.test(sentence))
    .join(' ');
}

// Escaped and code characters are parked in the Private Use Area so that the inline rules below
// cannot treat them as markup; restore() brings them back at the end.
const PRIVATE_USE = /[\uE000-\uE0FF]/g;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/g;
const protect = (s: string): string =>
  s.replace(ASCII_PUNCTUATION, (c) => String.fromCharCode(0xe000 + c.charCodeAt(0)));
const restore = (s: string): string =>
  s.replace(PRIVATE_USE, (c) => String.fromCharCode(c.charCodeAt(0) - 0xe000));
const protectEscapes = (s: string): string =>
  s.replace(/\\([!-/:-@[-`{-~])/g, (_, c: string) => protect(c));

const REASONING_TAGS = 'think|thinking|reasoning';

function dropReasoning(text: string): string {
  // Some models put the opening tag in the prompt template, so the reply starts mid-reasoning and
  // the closing tag ends a line of its own. A closing tag inside a sentence ("the </think> tag") is
  // prose, not the end of reasoning.
  const orphanClose = new RegExp(`^(?:(?!<(?:${REASONING_TAGS})>)[\\s\\S])*?</(?:${REASONING_TAGS})>[ \\t]*(?=\\n|$)`, 'i');
  const block = new RegExp(`(^|\\n)[ \\t]*<(${REASONING_TAGS})>[\\s\\S]*?(?:</\\2>|$)`, 'gi');
  // What is left of the tags is markup, not words; a tag quoted as `code` stays.
  const strayTag = new RegExp(`(?<!\`)</?(?:${REASONING_TAGS})>(?!\`)`, 'gi');
  return text.replace(orphanClose, '').replace(block, '$1').replace(strayTag, '');
}

function dropHtmlBlocks(text: string): string {
  return text
    .replace(/<!--[\s\S]*?(?:-->|$)/g, '')
    .replace(/<(script|style)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi, '');
}

const FENCE = /^\s*(`{3,}|~{3,})/;
const ATX_HEADING = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const TABLE_SEPARATOR = /^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$|^\s*\|\s*:?-+:?\s*\|\s*$/;
const LIST_ITEM = /^\s*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?(.*)$/;
const QUOTE_MARKERS = /^ {0,3}(?:>[ \t]?)+/;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*\S+/;
const INDENTED = /^(?: {4}|\t)/;

/** The text of each block, markup of the block level removed, code dropped. */
function splitBlocks(text: string): string[] {
  const blocks: string[] = [];
  let paragraph: string[] = [];
  let fence: { char: string; length: number } | null = null;
  let inIndentedCode = false;
  let inList = false;
  let inTable = false;
  let afterBlank = true;

  const flush = (): void => {
    if (paragraph.length > 0) blocks.push(paragraph.join(' '));
    paragraph = [];
  };
  const tableRow = (line: string): string =>
    line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim()).filter(Boolean).join(', ');

  for (const rawLine of text.split('\n')) {
    if (fence) {
      const close = rawLine.match(/^\s*(`{3,}|~{3,})\s*$/);
      if (close?.[1] && close[1][0] === fence.char && close[1].length >= fence.length) fence = null;
      continue;
    }
    const open = rawLine.match(FENCE);
    if (open?.[1]) {
      flush();
      fence = { char: open[1][0] ?? '`', length: open[1].length };
      inIndentedCode = false;
      continue;
    }
    if (rawLine.trim() === '') {
      flush();
      inTable = false;
      afterBlank = true;
      continue;
    }
    if (inIndentedCode && INDENTED.test(rawLine)) continue;
    inIndentedCode = false;
    if (INDENTED.test(rawLine) && afterBlank && !inList && paragraph.length === 0 && !LIST_ITEM.test(rawLine)) {
      inIndentedCode = true;
      continue;
    }
    const wasAfterBlank = afterBlank;
    afterBlank = false;

    const quoted = QUOTE_MARKERS.test(rawLine);
    const line = rawLine.replace(QUOTE_MARKERS, '');
    if (quoted && line.trim() === '') {
      flush();
      continue;
    }
    if (SETEXT_UNDERLINE.test(line) && paragraph.length > 0 && !inList) {
      flush(); // the paragraph was a setext heading
      continue;
    }
    if (THEMATIC_BREAK.test(line)) {
      flush();
      inList = false;
      continue;
    }
    const heading = line.match(ATX_HEADING);
    if (heading) {
      flush();
      blocks.push(heading[1] ?? '');
      inList = false;
      continue;
    }
    if (TABLE_SEPARATOR.test(line)) {
      // The paragraph's last line was the table's header row.
      const header = paragraph.at(-1)?.includes('|') ? paragraph.pop() : undefined;
      flush();
      if (header !== undefined) blocks.push(tableRow(header));
      inTable = true;
      continue;
    }
    const trimmed = line.trim();
    if ((inTable && trimmed.includes('|')) || (trimmed.startsWith('|') && trimmed.endsWith('|') && trimmed.length > 1)) {
      flush();
      blocks.push(tableRow(line));
      inTable = true;
      continue;
    }
    inTable = false;
    if (REFERENCE_DEFINITION.test(line)) continue;
    const item = line.match(LIST_ITEM);
    if (item) {
      flush();
      paragraph.push(item[1] ?? '');
      inList = true;
      continue;
    }
    if (inList && wasAfterBlank && !/^\s/.test(line)) inList = false;
    paragraph.push(trimmed);
  }
  flush();
  return blocks;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^www\./, '');
  } catch {
    return '';
  }
}

const WORDISH = '[\\p{L}\\p{N}]';
// A run of markers is emphasis when it opens before a word or closes after one, not when it sits
// inside a word (snake_case, 5*3) or stands alone (2 * 3).
const emphasis = (marker: string): RegExp =>
  new RegExp(`(?<!${WORDISH}|${marker})${marker}+(?=[^\\s${marker}])|(?<=[^\\s${marker}])${marker}+(?!${WORDISH}|${marker})`, 'gu');
const STAR_EMPHASIS = emphasis('\\*');
const UNDERSCORE_EMPHASIS = emphasis('_');
const STRIKETHROUGH = /~~/g;

// Only known tag names, so that prose such as "x<y and z>w" or Array<string> is left alone.
const HTML_TAG = new RegExp(
  '</?(?:' +
    'a|abbr|article|aside|audio|b|big|blockquote|body|br|button|caption|center|cite|code|dd|del|details|dfn|div|dl|dt|' +
    'em|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|main|mark|' +
    'nav|ol|p|picture|pre|q|s|samp|section|small|source|span|strike|strong|sub|summary|sup|svg|table|tbody|td|' +
    'textarea|tfoot|th|thead|time|tr|tt|u|ul|var|video' +
    ')(?:\\s[^<>]*)?/?>',
  'gi',
);

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

function cleanInline(block: string): string {
  let s = block
    // Code spans keep their words; their characters are protected from the markup rules.
    .replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks: string, code: string) => protect(code.trim()))
    .replace(/`/g, '')
    .replace(/!\[[^\]]*\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g, '')
    .replace(/!\[[^\]]*\]\[[^\]]*\]/g, '')
    .replace(/\[\^[^\]]+\]/g, '')
    .replace(/\[([^\]]*)\]\(\s*<?(?:[^()\s>]|\([^()\s]*\))*>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/<((?:https?|ftp):\/\/[^\s<>]+)>/gi, (_, url: string) => hostOf(url))
    .replace(/<(?:mailto:)?([^\s<>@]+@[^\s<>@]+)>/gi, '$1')
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(HTML_TAG, '')
    .replace(/\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]]/gi, (url) => hostOf(url))
    .replace(STAR_EMPHASIS, '')
    .replace(UNDERSCORE_EMPHASIS, '')
    .replace(STRIKETHROUGH, '')
    .replace(/&(amp|lt|gt|quot|apos|nbsp|#39);/g, (_, name: string) => ENTITIES[name] ?? '');
  s = restore(s);
  return s
    .replace(/\(\s*\)/g, '')
    .replace(/\s+/g, ' ')
    .replace(/ +([.,;:!?])/g, '$1')
    .trim();
}

function endSentence(s: string): string {
  if (s === '' || /[.!?…。！？:;]["'”’»)\]]*$/.test(s)) return s;
  return s.endsWith(',') ? `${s.slice(0, -1)}.` : `${s}.`;
}
