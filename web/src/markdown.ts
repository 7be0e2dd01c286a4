// Markdown for AI replies, rendered as Preact vnodes built from the mdast tree. A reply is untrusted
// text (a prompt can make a model write anything), so safety comes from construction: no HTML string
// is ever made and nothing goes through innerHTML. Raw HTML in a reply is shown as the text it is,
// links are kept only for http(s)/mailto URLs, and images are never loaded (the page's CSP allows
// same-origin images only, and a reply must not make the browser fetch anything). No `style`
// attribute is set either: the CSP has no 'unsafe-inline' for styles, so table alignment is a class.
//
// Classes for the stylesheet: .md (the wrapper), .align-left/.align-center/.align-right (table
// cells), .task (a task-list item), .md-image (a link standing for an image), .footnote.
import type { Definition, List, ListItem, Nodes, Parents, PhrasingContent, Root, RootContent, TableRow } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import { h, type ComponentChild, type ComponentChildren, type VNode } from 'preact';

export function Markdown(props: { text: string }): VNode {
  const tree = parse(props.text);
  const ctx: Context = { definitions: definitions(tree), inLink: false };
  return h('div', { class: 'md' }, blocks(tree.children, ctx, false)) as VNode;
}

// --- Parsing, memoized -------------------------------------------------------------------------
//
// A streaming reply re-renders on every delta, and so may every other message on the page when
// their parent re-renders. Trees are cached by text, shared by all instances, least recently used
// first out. The cache is module-level rather than a hook so that Markdown stays a plain function
// that tests (and callers) can invoke outside a render. Limits: the reply that is streaming is
// still parsed in full once per delta (linear in its length, so quadratic over the stream), and
// the vnodes are rebuilt on every render; wrap message components in memo() to skip unchanged ones.

const CACHE_LIMIT = 100;
const cache = new Map<string, Root>();
let lastParsed: string | undefined;

function parse(text: string): Root {
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  const tree = fromMarkdown(text, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  // A streaming reply only grows, so the text it had one delta ago will not be asked for again:
  // dropping it keeps a long stream from pushing the finished replies out of the cache.
  if (lastParsed !== undefined && text.startsWith(lastParsed)) cache.delete(lastParsed);
  lastParsed = text;
  cache.set(text, tree);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return tree;
}

// --- URLs ----------------------------------------------------------------------------------------

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/**
 * The URL to link to, or null when it must not become a link. Parsed without a base, so relative
 * and protocol-relative URLs are refused too (a reply has no business pointing into the page's own
 * API). The WHATWG parser strips the tabs, newlines and leading control characters that browsers
 * ignore (`java\tscript:`), and mdast has already decoded character references (`&#106;`), so the
 * protocol checked is the one a browser would act on; the normalized href is what gets rendered.
 */
export function safeHref(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

function linkProps(href: string, title: string | null | undefined) {
  return {
    href,
    rel: 'noopener noreferrer nofollow',
    target: '_blank',
    ...(title ? { title } : {}),
  };
}

// --- Rendering -----------------------------------------------------------------------------------

interface Context {
  /** Link and image reference definitions, by normalized identifier; the first one wins. */
  definitions: Map<string, Definition>;
  /** Inside a rendered <a>: an image there becomes text, since anchors must not nest. */
  inLink: boolean;
}

function definitions(tree: Root): Map<string, Definition> {
  const found = new Map<string, Definition>();
  const visit = (node: Nodes) => {
    if (node.type === 'definition') {
      if (!found.has(node.identifier)) found.set(node.identifier, node);
    } else if ('children' in node) {
      for (const child of node.children) visit(child);
    }
  };
  visit(tree);
  return found;
}

/**
 * Flow content (root, blockquote, list item, footnote definition). `tight` is for the items of a
 * tight list, whose paragraphs render without <p>; `lead` goes in front of the first paragraph
 * (a task checkbox, a footnote label).
 */
function blocks(nodes: RootContent[], ctx: Context, tight: boolean, lead?: ComponentChild): ComponentChild[] {
  const out: ComponentChild[] = [];
  nodes.forEach((node, i) => {
    const leading = i === 0 && lead !== undefined ? [lead, ' '] : [];
    if (i === 0 && lead !== undefined && node.type !== 'paragraph') out.push(lead, ' ');
    if (node.type === 'paragraph') {
      const content = [...leading, ...inline(node.children, ctx)];
      if (tight) out.push(...content);
      else out.push(h('p', null, content));
    } else if (node.type === 'html') {
      // Block-level raw HTML (<script>, <div>, <img ...>): shown as the text it is.
      out.push(h('p', null, node.value));
    } else {
      out.push(render(node, ctx));
    }
  });
  if (nodes.length === 0 && lead !== undefined) out.push(lead);
  return out;
}

function inline(nodes: PhrasingContent[], ctx: Context): ComponentChild[] {
  return nodes.map((node) => render(node, ctx));
}

function children(node: Parents, ctx: Context): ComponentChild[] {
  return node.children.map((child) => render(child as RootContent, ctx));
}

function render(node: RootContent, ctx: Context): ComponentChild {
  switch (node.type) {
    case 'text':
      return node.value;
    case 'paragraph':
      return h('p', null, inline(node.children, ctx));
    case 'heading':
      // One step below the page's own headings, so that a reply's "# Title" does not compete.
      return h(node.depth <= 2 ? 'h3' : 'h4', null, inline(node.children, ctx));
    case 'emphasis':
      return h('em', null, inline(node.children, ctx));
    case 'strong':
      return h('strong', null, inline(node.children, ctx));
    case 'delete':
      return h('del', null, inline(node.children, ctx));
    case 'inlineCode':
      return h('code', null, node.value);
    case 'break':
      return h('br', null);
    case 'thematicBreak':
      return h('hr', null);
    case 'html':
      return node.value;
    case 'code': {
      const lang = node.lang && /^[A-Za-z0-9][\w+#.-]{0,31}$/.test(node.lang) ? node.lang : null;
      return h('pre', null, h('code', lang ? { 'data-lang': lang } : null, node.value));
    }
    case 'blockquote':
      return h('blockquote', null, blocks(node.children, ctx, false));
    case 'list':
      return list(node, ctx);
    case 'listItem':
      // Only reached for a list item outside a list, which mdast does not produce.
      return h('li', null, blocks(node.children, ctx, false));
    case 'table': {
      const [head, ...body] = node.children;
      const align = node.align ?? [];
      const row = (r: TableRow, cell: 'th' | 'td') =>
        h(
          'tr',
          null,
          r.children.map((c, i) => {
            const a = align[i];
            return h(cell, { ...(a ? { class: `align-${a}` } : {}), ...(cell === 'th' ? { scope: 'col' } : {}) }, inline(c.children, ctx));
          }),
        );
      return h(
        'table',
        null,
        head ? h('thead', null, row(head, 'th')) : null,
        body.length ? h('tbody', null, body.map((r) => row(r, 'td'))) : null,
      );
    }
    case 'tableRow':
    case 'tableCell':
      // Only reached outside a table, which mdast does not produce.
      return children(node, ctx);
    case 'link':
      return link(node.url, node.title, node.children, ctx);
    case 'linkReference': {
      const def = ctx.definitions.get(node.identifier);
      if (def) return link(def.url, def.title, node.children, ctx);
      return ['[', ...inline(node.children, ctx), ']'];
    }
    case 'image':
      return image(node.url, node.title, node.alt, ctx);
    case 'imageReference': {
      const def = ctx.definitions.get(node.identifier);
      return def ? image(def.url, def.title, node.alt, ctx) : imageText(node.alt);
    }
    case 'definition':
      return null;
    case 'footnoteReference':
      // As the text that was written: footnote anchors would need ids, which could clash with
      // the page's own and with other replies' footnotes.
      return `[^${node.label ?? node.identifier}]`;
    case 'footnoteDefinition':
      return h('div', { class: 'footnote' }, blocks(node.children, ctx, false, `[^${node.label ?? node.identifier}]:`));
    case 'yaml':
      return h('pre', null, node.value);
    default: {
      // A node type this renderer does not know (a future mdast extension): its text, nothing else.
      const unknown = node as { value?: unknown; children?: RootContent[] };
      if (Array.isArray(unknown.children)) return unknown.children.map((c) => render(c, ctx));
      return typeof unknown.value === 'string' ? unknown.value : null;
    }
  }
}

function list(node: List, ctx: Context): ComponentChild {
  // A list is loose when it or any of its items is spread (blank lines between or inside items).
  const tight = !node.spread && !node.children.some((item) => item.spread);
  const items = node.children.map((item) => listItem(item, tight, ctx));
  if (!node.ordered) return h('ul', null, items);
  return h('ol', typeof node.start === 'number' && node.start !== 1 ? { start: node.start } : null, items);
}

function listItem(item: ListItem, tight: boolean, ctx: Context): ComponentChild {
  if (typeof item.checked !== 'boolean') return h('li', null, blocks(item.children, ctx, tight));
  // A real checkbox, disabled, is what screen readers announce as a checked or unchecked item;
  // the label says which task state it is in words as well.
  const box = h('input', {
    type: 'checkbox',
    checked: item.checked,
    disabled: true,
    'aria-label': item.checked ? 'done' : 'not done',
  });
  return h('li', { class: 'task' }, blocks(item.children, ctx, tight, box));
}

function link(url: string, title: string | null | undefined, content: PhrasingContent[], ctx: Context): ComponentChildren {
  const href = ctx.inLink ? null : safeHref(url);
  if (href === null) return inline(content, ctx);
  return h('a', linkProps(href, title), inline(content, { ...ctx, inLink: true }));
}

function image(url: string, title: string | null | undefined, alt: string | null | undefined, ctx: Context): ComponentChild {
  const href = ctx.inLink ? null : safeHref(url);
  if (href === null) return imageText(alt);
  return h('a', { ...linkProps(href, title), class: 'md-image' }, imageText(alt));
}

function imageText(alt: string | null | undefined): string {
  return alt ? `Image: ${alt}` : 'Image';
}
