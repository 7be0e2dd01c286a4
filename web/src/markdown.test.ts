// The reply renderer, checked on its vnode tree (no DOM here): what must never come out of a reply
// (script, img, javascript: links, inline HTML or styles) and how markdown maps to elements.
import type { ComponentChildren, VNode } from 'preact';
import { describe, expect, it } from 'vitest';
import { Markdown, safeHref } from './markdown.ts';

type Props = Record<string, unknown> & { children?: ComponentChildren };

/** The vnode tree with function components called, so that only elements and text remain. */
function expand(node: ComponentChildren): ComponentChildren {
  if (Array.isArray(node)) return node.map(expand);
  if (!isVNode(node)) return node;
  if (typeof node.type === 'function') {
    return expand((node.type as (p: unknown) => ComponentChildren)(node.props));
  }
  return node;
}

function isVNode(node: unknown): node is VNode<Props> {
  return typeof node === 'object' && node !== null && 'type' in node && 'props' in node;
}

function render(text: string): VNode<Props> {
  const out = expand(Markdown({ text }));
  if (!isVNode(out)) throw new Error('Markdown did not return a vnode');
  return out;
}

/** Every element vnode, depth first. */
function elements(node: ComponentChildren): Array<VNode<Props>> {
  if (Array.isArray(node)) return node.flatMap(elements);
  if (!isVNode(node)) return [];
  return [node, ...elements(expand(node.props.children ?? null))];
}

function text(node: ComponentChildren): string {
  if (Array.isArray(node)) return node.map(text).join('');
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  if (!isVNode(node)) return '';
  return text(expand(node.props.children ?? null));
}

function tags(node: ComponentChildren): string[] {
  return elements(node).map((e) => String(e.type));
}

const only = (node: ComponentChildren, tag: string) => elements(node).filter((e) => e.type === tag);

describe('Markdown links', () => {
  const unsafe: Array<[string, string]> = [
    ['javascript:', '[click me](javascript:alert(1))'],
    ['mixed-case JaVaScRiPt:', '[click me](JaVaScRiPt:alert(1))'],
    ['entity-encoded &#106;avascript:', '[click me](&#106;avascript:alert(1))'],
    ['entity-encoded colon javascript&#58;', '[click me](javascript&#58;alert(1))'],
    ['a tab inside the scheme', '[click me](<java\tscript:alert(1)>)'],
    ['a leading space', '[click me](< javascript:alert(1)>)'],
    ['vbscript:', '[click me](vbscript:msgbox(1))'],
    ['data:', '[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
    ['a relative URL', '[click me](/api/chat)'],
    ['a protocol-relative URL', '[click me](//evil.example/x)'],
    ['a reference to a javascript: definition', '[click me][x]\n\n[x]: javascript:alert(1)'],
  ];
  for (const [name, source] of unsafe) {
    it(`renders ${name} as its text, without <a>`, () => {
      const tree = render(source);
      expect(only(tree, 'a')).toEqual([]);
      expect(text(tree)).toContain('click me');
    });
  }

  it('renders a javascript: autolink as text', () => {
    const tree = render('<javascript:alert(1)>');
    expect(only(tree, 'a')).toEqual([]);
    expect(text(tree)).toBe('javascript:alert(1)');
  });

  it('keeps the formatting inside a refused link', () => {
    const tree = render('[**bold**](javascript:alert(1))');
    expect(only(tree, 'a')).toEqual([]);
    expect(text(only(tree, 'strong'))).toBe('bold');
  });

  it('gives an https link href, rel and target', () => {
    const [a, ...rest] = only(render('[docs](https://example.com/a?b=1 "Title")'), 'a');
    expect(rest).toEqual([]);
    expect(a?.props).toMatchObject({
      href: 'https://example.com/a?b=1',
      rel: 'noopener noreferrer nofollow',
      target: '_blank',
      title: 'Title',
    });
    expect(text(a)).toBe('docs');
  });

  it('links http, mailto, GFM autolink literals and resolved references', () => {
    const tree = render('[a](http://example.com) [b][r] www.example.org me@example.net\n\n[r]: https://example.com/r');
    expect(only(tree, 'a').map((a) => a.props.href)).toEqual([
      'http://example.com/',
      'https://example.com/r',
      'http://www.example.org/',
      'mailto:me@example.net',
    ]);
  });

  it('safeHref accepts only absolute http, https and mailto URLs', () => {
    expect(safeHref('HTTPS://Example.com/a b')).toBe('https://example.com/a%20b');
    expect(safeHref('mailto:a@b.c')).toBe('mailto:a@b.c');
    for (const url of ['javascript:x', '\u0000javascript:x', 'java\nscript:x', 'data:,x', 'ftp://x', 'x', '/x', '#x', '']) {
      expect(safeHref(url)).toBeNull();
    }
  });
});

describe('Markdown raw HTML and images', () => {
  it('renders inline <img onerror> as text', () => {
    const tree = render('before <img src=x onerror=alert(1)> after');
    expect(tags(tree)).not.toContain('img');
    expect(text(tree)).toBe('before <img src=x onerror=alert(1)> after');
  });

  it('renders a block <script> as text', () => {
    const tree = render('<script>alert(1)</script>\n\nnext');
    expect(tags(tree)).not.toContain('script');
    expect(text(tree)).toContain('<script>alert(1)</script>');
  });

  it('renders other block HTML as text', () => {
    const tree = render('<div onclick="alert(1)">\n<iframe src="https://evil.example"></iframe>\n</div>');
    expect(tags(tree)).toEqual(['div', 'p']);
    expect(text(tree)).toContain('<iframe src="https://evil.example"></iframe>');
  });

  it('never renders an image as <img>: a safe URL becomes a link saying so', () => {
    const tree = render('![a cat](https://example.com/cat.png)');
    expect(tags(tree)).not.toContain('img');
    const [a] = only(tree, 'a');
    expect(a?.props).toMatchObject({ href: 'https://example.com/cat.png', class: 'md-image', rel: 'noopener noreferrer nofollow' });
    expect(text(a)).toBe('Image: a cat');
  });

  it('renders an image with an unsafe or relative URL as text only', () => {
    for (const source of ['![a cat](javascript:alert(1))', '![a cat](/cat.png)', '![a cat][c]\n\n[c]: data:image/png;base64,AAAA']) {
      const tree = render(source);
      expect(tags(tree)).toEqual(['div', 'p']);
      expect(text(tree)).toBe('Image: a cat');
    }
  });

  it('renders an image inside a link as text, so that anchors never nest', () => {
    const tree = render('[![logo](https://example.com/l.png)](https://example.com)');
    const links = only(tree, 'a');
    expect(links.map((a) => a.props.href)).toEqual(['https://example.com/']);
    expect(text(links[0])).toBe('Image: logo');
  });

  it('sets no dangerouslySetInnerHTML or style prop anywhere', () => {
    const corpus = [
      '# Title\n\nSome *em* **strong** ~~del~~ `code` [link](https://x.y) ![img](https://x.y/i.png)',
      '<b style="color:red">x</b> <span style="x">y</span>',
      '<div style="position:fixed">\nblock\n</div>',
      '| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |',
      '- [x] done\n- [ ] todo\n\n1. one\n2. two',
      '> quote\n\n---\n\n```js\nlet x = 1;\n```\n\nline  \nbreak',
      'Footnote[^n].\n\n[^n]: The note.',
      '<script>alert(1)</script>\n<style>body{display:none}</style>',
      '[x](javascript:alert(1)) <img src=x onerror=alert(1)> &lt;b&gt;',
    ];
    for (const source of corpus) {
      for (const el of elements(render(source))) {
        expect(el.props).not.toHaveProperty('dangerouslySetInnerHTML');
        expect(el.props).not.toHaveProperty('style');
        expect(['script', 'style', 'img', 'iframe', 'object', 'embed']).not.toContain(el.type);
      }
    }
  });
});

describe('Markdown structure', () => {
  it('wraps the output in div.md', () => {
    const tree = render('hello');
    expect(tree.type).toBe('div');
    expect(tree.props.class).toBe('md');
    expect(tags(tree)).toEqual(['div', 'p']);
  });

  it('shifts headings down: h3 for levels 1-2, h4 for 3 and deeper', () => {
    const tree = render('# One\n\n## Two\n\n### Three\n\n###### Six');
    expect(tags(tree)).toEqual(['div', 'h3', 'h3', 'h4', 'h4']);
    expect(text(only(tree, 'h4')[1])).toBe('Six');
  });

  it('renders inline formatting, breaks and rules', () => {
    const tree = render('*em* **strong** ~~gone~~ `a<b>`  \nnext\n\n---');
    expect(tags(tree)).toEqual(['div', 'p', 'em', 'strong', 'del', 'code', 'br', 'hr']);
    expect(text(only(tree, 'code'))).toBe('a<b>');
  });

  it('renders a code fence as pre > code with data-lang from a plain-word info string', () => {
    const tree = render('```ts title="x"\nconst a = "<b>";\n```\n\n```\nplain\n```\n\n```"><script>\nx\n```');
    expect(tags(tree)).toEqual(['div', 'pre', 'code', 'pre', 'code', 'pre', 'code']);
    const codes = only(tree, 'code');
    expect(codes.map((c) => c.props['data-lang'])).toEqual(['ts', undefined, undefined]);
    expect(text(codes[0])).toBe('const a = "<b>";');
  });

  it('renders a blockquote', () => {
    const tree = render('> quoted *text*');
    expect(tags(tree)).toEqual(['div', 'blockquote', 'p', 'em']);
  });

  it('renders tight lists without <p>, loose ones with, and an ordered start', () => {
    const tight = render('- a\n- b');
    expect(tags(tight)).toEqual(['div', 'ul', 'li', 'li']);
    const loose = render('- a\n\n- b');
    expect(tags(loose)).toEqual(['div', 'ul', 'li', 'p', 'li', 'p']);
    const ordered = render('3. three\n4. four');
    expect(only(ordered, 'ol')[0]?.props.start).toBe(3);
    expect(only(render('1. one'), 'ol')[0]?.props.start).toBeUndefined();
  });

  it('renders task items as disabled, labelled checkboxes', () => {
    const tree = render('- [x] shipped\n- [ ] tested\n- plain');
    const items = only(tree, 'li');
    expect(items.map((li) => li.props.class)).toEqual(['task', 'task', undefined]);
    const boxes = only(tree, 'input');
    expect(boxes.map((b) => b.props)).toEqual([
      { type: 'checkbox', checked: true, disabled: true, 'aria-label': 'done' },
      { type: 'checkbox', checked: false, disabled: true, 'aria-label': 'not done' },
    ]);
    expect(text(items[0])).toBe(' shipped');
  });

  it('renders a table with head, body and alignment classes', () => {
    const tree = render('| L | C | R | N |\n|:--|:-:|--:|---|\n| 1 | **2** | 3 | 4 |\n| 5 | 6 | 7 | 8 |');
    expect(tags(only(tree, 'table'))).toEqual([
      'table', 'thead', 'tr', 'th', 'th', 'th', 'th',
      'tbody', 'tr', 'td', 'td', 'strong', 'td', 'td', 'tr', 'td', 'td', 'td', 'td',
    ]);
    expect(only(tree, 'th').map((c) => c.props.class)).toEqual(['align-left', 'align-center', 'align-right', undefined]);
    expect(only(tree, 'td').slice(0, 4).map((c) => c.props.class)).toEqual(['align-left', 'align-center', 'align-right', undefined]);
    expect(text(only(tree, 'tbody'))).toBe('12345678');
  });

  it('renders a table with no body rows without tbody', () => {
    expect(tags(render('| a |\n|---|'))).toEqual(['div', 'table', 'thead', 'tr', 'th']);
  });

  it('renders footnotes as plain text, with no anchors or ids', () => {
    const tree = render('Claim[^src].\n\n[^src]: The *source*.');
    expect(only(tree, 'a')).toEqual([]);
    expect(elements(tree).some((e) => 'id' in e.props)).toBe(false);
    expect(text(only(tree, 'p')[0])).toBe('Claim[^src].');
    const [note] = only(tree, 'div').filter((d) => d.props.class === 'footnote');
    expect(text(note)).toBe('[^src]: The source.');
  });

  it('renders a text again after the parse cache dropped it as a streamed prefix', () => {
    expect(text(render('cached *re'))).toBe('cached *re');
    expect(text(render('cached *reply*'))).toBe('cached reply');
    expect(tags(render('cached *re'))).toEqual(['div', 'p']);
    expect(tags(render('cached *reply*'))).toEqual(['div', 'p', 'em']);
  });

  it('renders a partial reply mid-stream without throwing', () => {
    const full = '# Plan\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nprint("hi")\n```\n\n- [ ] [link](https://example.com) **bold';
    for (let i = 0; i <= full.length; i++) render(full.slice(0, i));
    expect(tags(render(full))).toContain('table');
  });
});
