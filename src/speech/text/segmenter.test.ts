import { describe, expect, it } from 'vitest';
import { capSpeech, CUT_NOTE } from './cap-speech.ts';
import { createSegmenter, NOTHING_TO_READ, segmentSpeech, type SegmenterOptions } from './segmenter.ts';
import { toSpeechText } from './speech-text.ts';

const POLLY: SegmenterOptions = { maxChars: 3000, maxSpeechChars: 20_000 };
const SMALL: SegmenterOptions = { maxChars: 60, maxSpeechChars: 300 };
const TINY: SegmenterOptions = { maxChars: 25, maxSpeechChars: 60 };

const squash = (s: string): string => s.replace(/\s+/g, '');

/** A seeded PRNG (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pushes the deltas one by one; returns what each push gave, then what end() gave. */
function stream(deltas: readonly string[], options: SegmenterOptions): string[][] {
  const segmenter = createSegmenter(options);
  return [...deltas.map((delta) => segmenter.push(delta)), segmenter.end()];
}

/** The reply cut at random places into deltas of 1 to maxDelta characters. */
function randomSplit(reply: string, next: () => number, maxDelta: number): string[] {
  const deltas: string[] = [];
  for (let at = 0; at < reply.length; ) {
    const size = 1 + Math.floor(next() * maxDelta);
    deltas.push(reply.slice(at, at + size));
    at += size;
  }
  return deltas;
}

const PROSE = [
  'Hello there! I can help with that. Here is what you need to know about the topic.',
  'Dr. Smith and Mr. Jones met at 3.14 p.m. on Friday. They talked about e.g. budgets, i.e. money. J. R. R. Tolkien came too.',
  'Wait... what? Yes! It works… mostly. "Quoted sentence." And (a parenthetical one.) Then more.',
  'Visit https://docs.example.com/path/to/page?q=1 for details. Or write to <ann@example.com>. Done.',
  'This is **bold**, *italic*, __strong__, _em_ and ~~gone~~ text. Some `inline code` and `f(*args)` too.',
  'Read [the docs](https://example.com/docs) and [the guide](https://example.com/guide "Guide") today. Then [a reference][ref] as well.',
  'Use snake_case names like max_retries and API_KEY. Compute 2 * 3 and 5*4. Escaped \\*stars\\* stay.',
  'The price rose ~5% in 2024, up from 1.5% in 2023; analysts expect 2.75% next year. See the report.',
  '今日は晴れです。明日は雨が降るでしょう。傘を持って行ってください。',
  '你好，世界。今天天气很好！我们去公园散步吧？',
  'Привет, мир. Как дела? Всё хорошо.',
  'A citation here[1] and there[2]. Another claim[^1]. More prose follows after them.',
  'Line one\nwrapped onto line two. Still the same paragraph.  \nA hard break before this.',
  'A rather long opening sentence that keeps going, with a clause here and another one there, and yet another clause, until at last it stops. Then a short one.',
  'Short. Tiny. Small. Brief. Quick. Fast. Done. Over. Fine. Good. Well. Okay.',
  'Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to copy, then <b>paste</b> it. That is all.',
  'Words without any punctuation at all that run on and on for quite a while to test cutting behaviour here',
];

const MARKDOWN = [
  '# Getting started\n\nFirst, install the package. Then configure it.',
  '## Steps\n\n1. Open the app.\n2. Tap **Settings**.\n3. Choose *Privacy* and confirm.',
  '- apples, pears\n- oranges\n  - blood oranges\n  - navel oranges\n- bananas',
  'Here is the code:\n\n```js\nconst x = 1;\nconsole.log("Hello. World");\n```\n\nThat prints a greeting.',
  'Run this:\n\n~~~sh\nnpm install --save my_tool\nnpm test\n~~~\n\nIt should pass.',
  '| Name | Age |\n|------|----:|\n| Ann | 31 |\n| Bob | 42 |\n\nThat is the table.',
  '> **Tip:** keep your key secret.\n> Never commit it.\n\nAfter the quote.',
  '<details>\n<summary>Show the steps</summary>\n\nRun it **twice**.\n\n</details>\n\nDone.',
  'Intro paragraph.\n\n---\n\nAfter the rule.\n\n![a diagram](https://x.test/d.png)\n\nEnd.',
  '<think>The user wants a summary.</think>\n\nHere is the summary. It is short.',
  '1. Install:\n   ```sh\n   npm i\n   ```\n2. Run it.\n\nThen check the output.',
  'See [the guide][g] now.\n\n[g]: https://example.com/guide\n\nMore text after the definition.',
  '### Why now?\n\nBecause the time is right. **Really.**',
  'Setext title\n============\n\nBody text here.',
  'Intro.\n\n```python\ndef f():\n    return 1\n```\n\n```\nmore code\n```\n\nOutro sentence. And more.',
];

/** Random markdown: every construct above, nested and next to each other, in many combinations. */
function randomMarkdown(next: () => number): string {
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const words = [
    ...['the', 'The', 'Dr.', 'e.g.', 'U.S.', '3.14', 'API', 'snake_case', '2 * 3', 'Hello', 'ok.', 'Yes!', 'Why?', 'end.'],
    ...['a,', 'b;', 'c:', '—', '(note)', '"quoted."', '…', '~5', '[1]', '[^1]', '你好。', 'Привет'],
    ...['https://example.com/a_b', 'ann@example.com'],
  ];
  const inline = (): string =>
    pick<() => string>([
      () => pick(words),
      () => pick(words),
      () => `**${pick(words)} ${pick(words)}**`,
      () => `*${pick(words)}*`,
      () => `_${pick(words)}_`,
      () => `~~${pick(words)}~~`,
      () => `\`${pick(words)} ${pick(words)}\``,
      () => `[${pick(words)} ${pick(words)}](https://example.com/${pick(words)})`,
      () => `[${pick(words)}][ref]`,
      () => `![${pick(words)}](x.png)`,
      () => `<b>${pick(words)}</b>`,
      () => '<https://example.org/x>',
      () => '\\*esc\\*',
    ])();
  const sentence = () => Array.from({ length: 1 + Math.floor(next() * 6) }, inline).join(' ') + pick(['.', '.', '!', '?', '', ':']);
  const paragraph = () => Array.from({ length: 1 + Math.floor(next() * 4) }, sentence).join(pick([' ', '\n']));
  const block = pick<() => string>([
    paragraph,
    paragraph,
    () => `## ${sentence()}`,
    () => Array.from({ length: 1 + Math.floor(next() * 3) }, () => `- ${paragraph()}`).join('\n'),
    () => Array.from({ length: 1 + Math.floor(next() * 3) }, (_, i) => `${i + 1}. ${paragraph()}`).join('\n'),
    () => `\`\`\`js\n${paragraph()}\n\`\`\``,
    () => `> ${paragraph()}\n> ${paragraph()}`,
    () => `| ${pick(words)} | ${pick(words)} |\n|---|---|\n| ${sentence()} | ${sentence()} |`,
    () => `<div>\n${paragraph()}\n</div>`,
    () => '---',
  ]);
  return Array.from({ length: 1 + Math.floor(next() * 4) }, () => block()).join(pick(['\n\n', '\n']));
}

/** Replies made of the pieces above, several blocks each. */
function corpus(): string[] {
  const next = random(7);
  const pieces = [...PROSE, ...MARKDOWN];
  const mixed = Array.from({ length: 20 }, () =>
    Array.from({ length: 2 + Math.floor(next() * 4) }, () => pieces[Math.floor(next() * pieces.length)]!).join('\n\n'),
  );
  return [...pieces, ...mixed];
}

describe('segmentSpeech', () => {
  it('speaks the first sentence alone, then larger segments', () => {
    expect(segmentSpeech('Hello there. How are you? I am fine.', POLLY)).toEqual(['Hello there.', 'How are you? I am fine.']);
  });

  it('says NOTHING_TO_READ for a reply with nothing to say, at end() only', () => {
    const segmenter = createSegmenter(POLLY);
    expect(segmenter.push('```ts\nconst a = 1;\n')).toEqual([]);
    expect(segmenter.push('```\n')).toEqual([]);
    expect(segmenter.end()).toEqual([NOTHING_TO_READ]);
    expect(segmentSpeech('', POLLY)).toEqual([NOTHING_TO_READ]);
  });

  it('refuses limits it cannot keep', () => {
    expect(() => createSegmenter({ maxChars: 1, maxSpeechChars: 20_000 })).toThrow(RangeError);
    expect(() => createSegmenter({ maxChars: 3000, maxSpeechChars: CUT_NOTE.length })).toThrow(RangeError);
  });
});

describe('streaming gives the segments of the whole reply', () => {
  const replies = corpus();
  const optionSets = [POLLY, SMALL, TINY];

  it('for random splits, 1-character deltas included', () => {
    const next = random(42);
    for (const options of optionSets) {
      for (const reply of replies) {
        const whole = segmentSpeech(reply, options);
        const splits = [[...reply], ...[2, 5, 12, 40].map((size) => randomSplit(reply, next, size))];
        for (const deltas of splits) {
          expect(stream(deltas, options).flat(), JSON.stringify({ reply, deltas, options })).toEqual(whole);
        }
      }
    }
  });

  it('for random markdown', () => {
    const next = random(2024);
    for (let n = 0; n < 100; n++) {
      const reply = randomMarkdown(next);
      for (const options of [POLLY, SMALL]) {
        const whole = segmentSpeech(reply, options);
        for (const deltas of [randomSplit(reply, next, 3), randomSplit(reply, next, 20)]) {
          expect(stream(deltas, options).flat(), JSON.stringify({ reply, deltas, options })).toEqual(whole);
        }
      }
    }
  });

  it('for a split into two at every place', () => {
    for (const reply of [...PROSE, ...MARKDOWN]) {
      const whole = segmentSpeech(reply, SMALL);
      for (let at = 0; at <= reply.length; at++) {
        const deltas = [reply.slice(0, at), reply.slice(at)];
        expect(stream(deltas, SMALL).flat(), JSON.stringify(deltas)).toEqual(whole);
      }
    }
  });
});

describe('what is spoken', () => {
  it('is the speech of the reply, capped as capSpeech caps it', () => {
    for (const options of [POLLY, SMALL, TINY]) {
      for (const reply of corpus()) {
        const expected = capSpeech(toSpeechText(reply) || NOTHING_TO_READ, options.maxSpeechChars);
        const spoken = segmentSpeech(reply, options).join(' ');
        // Sentences that no space separates (CJK) get one, which the cap counts: compare those uncut.
        if (options === POLLY || !/[\u3000-\u9fff]/.test(reply)) expect(squash(spoken), reply).toBe(squash(expected));
      }
    }
  });

  it('keeps every segment within maxChars, and the whole within the cap, the note last', () => {
    for (const options of [SMALL, TINY]) {
      for (const reply of corpus()) {
        const segments = segmentSpeech(reply, options);
        for (const segment of segments) {
          expect(segment.length).toBeGreaterThan(0);
          expect(segment.length).toBeLessThanOrEqual(options.maxChars);
        }
        const spoken = segments.join(' ');
        expect(spoken.length).toBeLessThanOrEqual(options.maxSpeechChars);
        if (spoken.length < toSpeechText(reply).length) expect(spoken.endsWith(CUT_NOTE)).toBe(true);
      }
    }
  });

  it('cuts a long reply at a sentence end and says so, in segments said before the reply ends', () => {
    const sentence = 'This sentence is exactly fifty characters long ok. ';
    const reply = sentence.repeat(30); // 1,530 characters, under the parse limit of 1,200 * 4
    const options = { maxChars: 3000, maxSpeechChars: 1200 };
    const pushed = stream(randomSplit(reply, random(1), 20), options);
    const segments = pushed.flat();
    const spoken = segments.join(' ');
    expect(spoken).toBe(capSpeech(reply.trim(), 1200));
    expect(spoken.length).toBeLessThanOrEqual(1200);
    expect(spoken.endsWith(`ok. ${CUT_NOTE}`)).toBe(true);
    // The speech outgrew the cap before the reply ended: nothing is left for end().
    expect(pushed.at(-1)).toEqual([]);
  });

  it('parses only the start of a reply longer than maxSpeechChars * 4, and ends with the note', () => {
    const options = { maxChars: 3000, maxSpeechChars: 200 };
    // 800 characters are parsed: a code block, then one sentence, then a sentence cut by the limit.
    const reply = `\`\`\`\n${'x'.repeat(700)}\n\`\`\`\n\nOne full sentence here. The limit cuts this one ${'word '.repeat(100)}`;
    const segments = segmentSpeech(reply, options);
    expect(segments).toEqual(['One full sentence here.', CUT_NOTE]);
    expect(stream(randomSplit(reply, random(3), 50), options).flat()).toEqual(segments);
    // The unfinished sentence is not said, even when the parsed start has no other.
    expect(segmentSpeech('word '.repeat(200), options)).toEqual([CUT_NOTE]);
  });

  it('never takes back what was said, should capSpeech cut into the punctuation that ends it', () => {
    // "Do it now:" is said at once (it ends before the earliest cut, 12); capSpeech would cut after the
    // second dash, then trim back to "Do it now… ".
    const options = { maxChars: 60, maxSpeechChars: 60 };
    const reply = `Do it now:\n\n— — then go on${' and on'.repeat(8)}.`;
    expect(capSpeech(toSpeechText(reply), 60)).toBe(`Do it now… ${CUT_NOTE}`);
    expect(segmentSpeech(reply, options)).toEqual(['Do it now:', CUT_NOTE]);
  });
});

describe('never speaks markup, even mid-stream', () => {
  it('says no code of a fence that arrives in pieces', () => {
    const fence = ['```js\n', 'const a = 1;\n', 'const b = 2;\n', 'console.log(a + b);\n', 'export { a, b };\n', '```', '\n\nThat adds. Then it prints.'];
    expect(stream(fence, POLLY)).toEqual([[], [], [], [], [], [], ['That adds.'], ['Then it prints.']]);
  });

  it('says the sentence before a fence while the code arrives, and none of the code', () => {
    const deltas = ['Here is an example.\n\n```js\n', 'const a = 1;\n', 'const b = 2;\n', 'console.log(a + b);\n', 'export { a, b };\n', '```', '\n\nThat adds. Then it prints.'];
    const pushed = stream(deltas, POLLY);
    expect(pushed.flat()).toEqual(['Here is an example.', 'That adds. Then it prints.']);
    for (const segment of pushed.flat()) expect(segment).not.toMatch(/const|console|export|`/);
    // The sentence before the code is said once the fence line is complete, not after the code.
    expect(pushed[0]).toEqual(['Here is an example.']);
  });

  it('says a link only once it is complete', () => {
    const pushed = stream(['[the docs](https://exam', 'ple.com/path) and more. Next sentence.'], POLLY);
    expect(pushed).toEqual([[], ['the docs and more.'], ['Next sentence.']]);
    const image = stream(['Look. ![A cat. Asleep', '](https://x.test/cat.png) Nice. Done.'], POLLY);
    expect(image.flat()).toEqual(['Look.', 'Nice. Done.']);
  });

  it('says emphasis and inline code split across deltas without their marks', () => {
    const deltas = ['Start. **Very', ' important:** keep `npm', ' test` green. _Really_', ' do it. Done.'];
    const segments = stream(deltas, POLLY).flat();
    expect(segments).toEqual(['Start.', 'Very important: keep npm test green. Really do it. Done.']);
  });

  it('says each segment as soon as it can no longer change', () => {
    const segmenter = createSegmenter(POLLY);
    expect(segmenter.push('Hello there.')).toEqual([]); // the next sentence may still start lower-case
    expect(segmenter.push(' H')).toEqual(['Hello there.']);
    expect(segmenter.push('ow are you? Fine. See https://example.com/a')).toEqual([]);
    expect(segmenter.end()).toEqual(['How are you? Fine. See example.com.']);
  });

  it('loses nothing when markdown rewrites a sentence already said (a limit)', () => {
    // "5*4" is said as text; the later "*" makes "*4 here. Then more text*" emphasis, one character
    // shorter. The stream goes on at the start of the word it had reached.
    const deltas = ['Use 5*4 here. Then', ' more text* ok.'];
    expect(segmentSpeech(deltas.join(''), POLLY)).toEqual(['Use 54 here.', 'Then more text ok.']);
    expect(stream(deltas, POLLY).flat()).toEqual(['Use 5*4 here.', 'Then more text ok.']);
  });

  it('does not end a sentence at an abbreviation or initial', () => {
    expect(segmentSpeech('Dr. Smith is here. He waits.', POLLY)[0]).toBe('Dr. Smith is here.');
    expect(segmentSpeech('J. R. R. Tolkien wrote it. Then more.', POLLY)[0]).toBe('J. R. R. Tolkien wrote it.');
  });
});

describe('segment sizes', () => {
  it('cuts a long first sentence after its first clause of 20 characters or more, as soon as it is settled', () => {
    const first = 'Well, that depends on a number of things, most of all on the budget, the timeline and the team that you have.';
    const segmenter = createSegmenter(POLLY);
    const deltas = randomSplit(`${first} Short.`, random(5), 4);
    const early: string[] = [];
    let at = 0;
    for (const delta of deltas) {
      at += delta.length;
      early.push(...segmenter.push(delta));
      if (early.length > 0) break;
    }
    expect(early).toEqual(['Well, that depends on a number of things,']);
    expect(at).toBeLessThan(first.length); // said before the sentence ended
    expect(segmentSpeech(`${first} Short.`, POLLY)).toEqual([
      'Well, that depends on a number of things,',
      'most of all on the budget, the timeline and the team that you have. Short.',
    ]);
    // A first sentence of up to 100 characters is said whole.
    expect(segmentSpeech('Sure, here it is, in short form. Next.', POLLY)[0]).toBe('Sure, here it is, in short form.');
  });

  it('grows segments 100, 200, 400, 800, 1600 characters and on, up to maxChars, closing at sentence ends', () => {
    const reply = 'Twenty characters ok. '.repeat(600); // sentences of 21 characters
    const lengths = segmentSpeech(reply, POLLY).map((s) => s.length);
    expect(lengths.slice(0, 8)).toEqual([21, 109, 219, 417, 813, 1605, 2991, 2991]);
    expect(segmentSpeech(reply, { maxChars: 500, maxSpeechChars: 20_000 }).map((s) => s.length).slice(0, 6)).toEqual([
      21, 109, 219, 417, 483, 483,
    ]);
  });

  it('splits a sentence longer than maxChars at clauses, then words, then by force', () => {
    const segments = segmentSpeech(`Go. ${'Alpha beta gamma, '.repeat(5)}end. ${'x'.repeat(70)}`, { maxChars: 30, maxSpeechChars: 20_000 });
    for (const segment of segments) expect(segment.length).toBeLessThanOrEqual(30);
    expect(segments.slice(0, 3)).toEqual(['Go.', 'Alpha beta gamma,', 'Alpha beta gamma,']);
    expect(segments.at(-1)).toBe(`${'x'.repeat(10)}.`);
  });
});
