import { describe, expect, it } from 'vitest';
import { speechBlocks, speechSoFar, toSpeechText } from './speech-text.ts';

describe('toSpeechText', () => {
  it('keeps plain prose as it is', () => {
    expect(toSpeechText('Hello there. How are you?')).toBe('Hello there. How are you?');
  });

  it('returns an empty string for empty and blank replies', () => {
    expect(toSpeechText('')).toBe('');
    expect(toSpeechText('  \n\n\t ')).toBe('');
  });

  describe('headings', () => {
    it('strips ATX markers and ends the heading as a sentence', () => {
      expect(toSpeechText('# Title\nBody text.')).toBe('Title. Body text.');
      expect(toSpeechText('### Step 2: install ###\n\nDone.')).toBe('Step 2: install. Done.');
    });

    it('leaves a #hashtag without a space alone', () => {
      expect(toSpeechText('#hashtag is fine')).toBe('#hashtag is fine.');
    });

    it('turns setext headings into sentences and drops the underline', () => {
      expect(toSpeechText('Main title\n==========\nText here.')).toBe('Main title. Text here.');
      expect(toSpeechText('Sub title\n---\nText here.')).toBe('Sub title. Text here.');
    });

    it('keeps existing punctuation at the end of a heading', () => {
      expect(toSpeechText('## Why now?\nBecause.')).toBe('Why now? Because.');
    });
  });

  describe('emphasis', () => {
    it('removes bold, italic and strikethrough markers', () => {
      expect(toSpeechText('This is **bold**, *italic*, __strong__, _em_ and ~~gone~~ text.')).toBe(
        'This is bold, italic, strong, em and gone text.',
      );
      expect(toSpeechText('***Very*** important.')).toBe('Very important.');
    });

    it('keeps snake_case words and underscores inside words', () => {
      expect(toSpeechText('Set max_retries and API_KEY_NAME now.')).toBe('Set max_retries and API_KEY_NAME now.');
    });

    it('keeps stars that are arithmetic rather than emphasis', () => {
      expect(toSpeechText('Compute 2 * 3 and 5*4.')).toBe('Compute 2 * 3 and 5*4.');
    });

    it('keeps escaped markdown characters literally', () => {
      expect(toSpeechText('Use \\*args\\* and 1\\. not a list.')).toBe('Use *args* and 1. not a list.');
    });

    it('handles emphasis next to punctuation', () => {
      expect(toSpeechText('(**Note:** read this.)')).toBe('(Note: read this.)');
    });
  });

  describe('code', () => {
    it('keeps the words of inline code without backticks', () => {
      expect(toSpeechText('Run `npm test` then `ls -la`.')).toBe('Run npm test then ls -la.');
    });

    it('protects inline code from the emphasis rules', () => {
      expect(toSpeechText('Call `f(*args, **kwargs)` and `__init__`.')).toBe('Call f(*args, **kwargs) and __init__.');
    });

    it('drops fenced code blocks with backticks and tildes', () => {
      expect(toSpeechText('Before:\n```js\nconst x = 1;\n```\nAfter.')).toBe('Before: After.');
      expect(toSpeechText('Before:\n~~~\nrm -rf /\n~~~\nAfter.')).toBe('Before: After.');
    });

    it('needs a closing fence of the same kind and length', () => {
      expect(toSpeechText('A.\n````\n```\nstill code\n````\nB.')).toBe('A. B.');
      expect(toSpeechText('A.\n```\n~~~\nstill code\n```\nB.')).toBe('A. B.');
    });

    it('drops an unclosed fence to the end of the reply', () => {
      expect(toSpeechText('Here is the code:\n```python\nprint("hi")\nmore')).toBe('Here is the code:');
    });

    it('returns an empty string for a code-only reply', () => {
      expect(toSpeechText('```ts\nconst a = 1;\n```')).toBe('');
      expect(toSpeechText('```\ncode\n```\n\n~~~\nmore code\n~~~\n')).toBe('');
    });

    it('drops indented code blocks after a blank line', () => {
      expect(toSpeechText('Example:\n\n    let x = 1;\n    let y = 2;\n\nThat is all.')).toBe('Example: That is all.');
    });

    it('does not treat indented list continuations as code', () => {
      expect(toSpeechText('- First item\n\n    more about the first item\n- Second')).toBe(
        'First item. more about the first item. Second.',
      );
    });

    it('drops code fences inside list items', () => {
      expect(toSpeechText('1. Install:\n   ```sh\n   npm i\n   ```\n2. Run it')).toBe('Install: Run it.');
    });
  });

  describe('lists', () => {
    it('strips bullet markers and ends each item as a sentence', () => {
      expect(toSpeechText('Shopping:\n- eggs\n* milk\n+ bread!')).toBe('Shopping: eggs. milk. bread!');
    });

    it('strips ordered markers', () => {
      expect(toSpeechText('1. Open the app\n2) Tap Settings\n10. Done')).toBe('Open the app. Tap Settings. Done.');
    });

    it('joins the wrapped lines of one item', () => {
      expect(toSpeechText('- a long item that\n  wraps here\n- next')).toBe('a long item that wraps here. next.');
    });

    it('strips task list boxes', () => {
      expect(toSpeechText('- [ ] todo\n- [x] done')).toBe('todo. done.');
    });

    it('turns a trailing comma into a period', () => {
      expect(toSpeechText('- apples,\n- pears,')).toBe('apples. pears.');
    });

    it('handles nested lists', () => {
      expect(toSpeechText('- fruit\n  - apple\n  - pear\n- veg')).toBe('fruit. apple. pear. veg.');
    });
  });

  describe('quotes, rules and tables', () => {
    it('strips quote markers, also nested ones', () => {
      expect(toSpeechText('> To be or not to be.\n>> Nested quote')).toBe('To be or not to be. Nested quote.');
    });

    it('treats a quoted blank line as a paragraph break', () => {
      expect(toSpeechText('> first\n>\n> second')).toBe('first. second.');
    });

    it('drops horizontal rules', () => {
      expect(toSpeechText('Part one.\n\n---\n\nPart two.\n\n***\n\n_ _ _\nEnd.')).toBe('Part one. Part two. End.');
    });

    it('reads tables row by row without pipes or separators', () => {
      const table = '| Name | Age |\n|------|----:|\n| Ann | 31 |\n| Bob | 42 |';
      expect(toSpeechText(`People:\n\n${table}\n\nThat is all.`)).toBe('People: Name, Age. Ann, 31. Bob, 42. That is all.');
    });

    it('reads tables without outer pipes', () => {
      expect(toSpeechText('a | b\n--- | ---\n1 | 2')).toBe('a, b. 1, 2.');
    });

    it('keeps escaped pipes inside cells', () => {
      expect(toSpeechText('| x \\| y | z |\n|---|---|')).toBe('x | y, z.');
    });
  });

  describe('links, images and URLs', () => {
    it('keeps link labels without URLs', () => {
      expect(toSpeechText('See [the docs](https://example.com/docs "Docs") for more.')).toBe('See the docs for more.');
      expect(toSpeechText('Read [Foo](https://en.wikipedia.org/wiki/Foo_(bar)) today.')).toBe('Read Foo today.');
    });

    it('keeps reference link labels and drops their definitions', () => {
      expect(toSpeechText('See [the guide][g] now.\n\n[g]: https://example.com/guide')).toBe('See the guide now.');
    });

    it('drops images', () => {
      expect(toSpeechText('Look: ![a cat](https://x.test/cat.png) nice.')).toBe('Look: nice.');
      expect(toSpeechText('![only an image](cat.png)')).toBe('');
    });

    it('speaks autolinks and bare URLs as their host name', () => {
      expect(toSpeechText('Visit <https://www.example.com/path?q=1>.')).toBe('Visit example.com.');
      expect(toSpeechText('Go to https://docs.aws.amazon.com/polly/latest/dg/voicelist.html, then read.')).toBe(
        'Go to docs.aws.amazon.com, then read.',
      );
    });

    it('keeps email autolinks readable', () => {
      expect(toSpeechText('Write to <ann@example.com>.')).toBe('Write to ann@example.com.');
    });

    it('drops footnote references', () => {
      expect(toSpeechText('A claim[^1].')).toBe('A claim.');
    });
  });

  describe('HTML', () => {
    it('removes tags and keeps their text', () => {
      expect(toSpeechText('Press <kbd>Ctrl</kbd>+<kbd>C</kbd><br>then <b>stop</b>.')).toBe('Press Ctrl+C then stop.');
    });

    it('drops comments, scripts and styles', () => {
      expect(toSpeechText('Hi <!-- hidden\nnote --> there.<script>alert(1)</script>')).toBe('Hi there.');
    });

    it('leaves comparisons and generics alone', () => {
      expect(toSpeechText('If x<y and z>w, use Array<string>.')).toBe('If x<y and z>w, use Array<string>.');
    });

    it('decodes common entities', () => {
      expect(toSpeechText('Tom &amp; Jerry &lt;3')).toBe('Tom & Jerry <3.');
    });
  });

  describe('reasoning blocks', () => {
    it('drops <think> blocks', () => {
      expect(toSpeechText('<think>\nThe user wants a greeting.\n</think>\n\nHello!')).toBe('Hello!');
      expect(toSpeechText('<THINKING>hmm</THINKING>Hi.')).toBe('Hi.');
    });

    it('drops an unclosed <think> to the end', () => {
      expect(toSpeechText('<think>I am still reasoning and never stop')).toBe('');
      expect(toSpeechText('Answer first.\n<think>then rambling')).toBe('Answer first.');
    });

    it('drops reasoning that starts without its opening tag, up to a closing tag that ends its line', () => {
      expect(toSpeechText('The user asks about cats.\n</think>\n\nCats are great.')).toBe('Cats are great.');
      expect(toSpeechText('The user asks about cats.</think>\nCats are great.')).toBe('Cats are great.');
    });

    it('keeps prose that mentions a closing tag mid-sentence', () => {
      expect(toSpeechText('The closing tag </think> is used by models. After it, text.')).toBe(
        'The closing tag is used by models. After it, text.',
      );
    });

    it('keeps a mention of the tag inside code', () => {
      expect(toSpeechText('Models wrap reasoning in `<think>` tags.')).toBe('Models wrap reasoning in <think> tags.');
    });
  });

  describe('whitespace and sentences', () => {
    it('joins wrapped paragraph lines and collapses whitespace', () => {
      expect(toSpeechText('One  line\nwrapped   here.\n\n\n\nNext   paragraph')).toBe('One line wrapped here. Next paragraph.');
    });

    it('ends each paragraph as a sentence', () => {
      expect(toSpeechText('Thanks\n\nBye')).toBe('Thanks. Bye.');
    });

    it('keeps closing quotes after the final punctuation', () => {
      expect(toSpeechText('He said "yes."')).toBe('He said "yes."');
    });

    it('handles Windows line endings', () => {
      expect(toSpeechText('# Title\r\n\r\n- item\r\n```\r\ncode\r\n```\r\n')).toBe('Title. item.');
    });

    it('keeps non-Latin scripts', () => {
      expect(toSpeechText('## Привет\nこんにちは。')).toBe('Привет. こんにちは。');
    });
  });

  it('cleans a realistic reply', () => {
    const reply = [
      '<think>Plan: explain briefly.</think>',
      '## Installing the tool',
      '',
      'You can install it with **npm**. See [the README](https://github.com/x/y#readme).',
      '',
      '```bash',
      'npm install --save my_tool',
      '```',
      '',
      '1. Create `config.json`',
      '2. Set `api_key`',
      '',
      '> **Tip:** keep your key secret',
      '',
      '| Option | Default |',
      '|---|---|',
      '| `retries` | 3 |',
    ].join('\n');
    expect(toSpeechText(reply)).toBe(
      'Installing the tool. You can install it with npm. See the README. Create config.json. Set api_key. ' +
        'Tip: keep your key secret. Option, Default. retries, 3.',
    );
  });
});

describe('toSpeechText on markdown structure that line rules got wrong', () => {
  it('reads lists inside block quotes', () => {
    expect(toSpeechText('> Steps:\n> 1. Open **the** app\n> 2. Tap *Save*\n>\n> Done.')).toBe('Steps: Open the app. Tap Save. Done.');
    expect(toSpeechText('> - outer\n>   - inner\n> - next')).toBe('outer. inner. next.');
    expect(toSpeechText('> 1. Run this:\n>\n>        npm test\n>\n> 2. Check the output')).toBe('Run this: Check the output.');
  });

  it('reads setext headings, also wrapped and quoted ones', () => {
    expect(toSpeechText('Release notes\nfor May\n===\nAll good.')).toBe('Release notes for May. All good.');
    expect(toSpeechText('> Quoted title\n> ---\n> Body')).toBe('Quoted title. Body.');
    expect(toSpeechText('- item\n---\nafter')).toBe('item. after.');
  });

  it('speaks reference link labels, never their URLs or definitions', () => {
    const reply = [
      'Read [the guide][g], [FAQ][] and [Docs].',
      '',
      '[g]: https://example.com/guide "Guide"',
      '[faq]: <https://example.com/faq>',
      '[docs]:',
      '  https://example.com/docs',
      '  "The docs"',
    ].join('\n');
    expect(toSpeechText(reply)).toBe('Read the guide, FAQ and Docs.');
    expect(toSpeechText('> See [this][1].\n>\n> [1]: https://x.test')).toBe('See this.');
  });

  it('reads a reference whose definition is missing as its label', () => {
    expect(toSpeechText('See [a][missing] and a note[^9].')).toBe('See a and a note.');
  });

  it('reads inline code in table cells', () => {
    const table = '| Command | Effect |\n|---|---|\n| `git add -p` | stages **parts** |\n| `a \\| b` | pipes |';
    expect(toSpeechText(table)).toBe('Command, Effect. git add -p, stages parts. a | b, pipes.');
  });

  it('reads the text of HTML blocks as markdown and drops their markup', () => {
    expect(toSpeechText('<details>\n<summary>Show the steps</summary>\n\nRun it **twice**.\n\n</details>')).toBe(
      'Show the steps. Run it twice.',
    );
    expect(toSpeechText('<div align="center">\n  <p>First <b>bold</b> line</p>\n  <p>Tom &amp; *Jerry*</p>\n</div>')).toBe(
      'First bold line. Tom & Jerry.',
    );
    expect(toSpeechText('<pre>\nrm -rf /\n</pre>\n\nDone.')).toBe('Done.');
    expect(toSpeechText('<!--\n\nhidden across a blank line\n\n-->\nShown.')).toBe('Shown.');
  });

  it('removes nested emphasis markers', () => {
    expect(toSpeechText('***a*** **b _c_**')).toBe('a b c.');
    expect(toSpeechText('*__nested__ emphasis* and ~~**gone**~~')).toBe('nested emphasis and gone.');
  });

  it('never speaks a fenced code block inside a list item', () => {
    expect(toSpeechText('- Run:\n\n  ```sh\n  npm test\n  ```\n\n  Then check.\n- Done')).toBe('Run: Then check. Done.');
    expect(toSpeechText('1. Step\n   ~~~\n   # not a heading\n   ~~~')).toBe('Step.');
    expect(toSpeechText('> - Try:\n>   ```\n>   secret\n>   ```')).toBe('Try:');
  });

  it('keeps a wrapped line that starts like an ordered item in its paragraph', () => {
    expect(toSpeechText('wrapped line\n2024. still paragraph')).toBe('wrapped line 2024. still paragraph.');
  });

  it('keeps inline code that looks like markup', () => {
    expect(toSpeechText('Use `<!-- x -->` and `f()` here.')).toBe('Use <!-- x --> and f() here.');
  });
});

describe('speechBlocks', () => {
  it('gives one entry per top-level block, list item and table row, none for code', () => {
    const reply = [
      '# Plan',
      '',
      'Intro text.',
      '',
      '- first',
      '- second',
      '  - nested',
      '',
      '| a | b |',
      '|---|---|',
      '| 1 | 2 |',
      '',
      '```',
      'code',
      '```',
      '',
      '> quoted',
      '>',
      '> - in quote',
      '',
      'End',
    ].join('\n');
    expect(speechBlocks(reply)).toEqual(['Plan.', 'Intro text.', 'first.', 'second. nested.', 'a, b.', '1, 2.', 'quoted.', 'in quote.', 'End.']);
  });

  it('gives no entry when nothing is speakable', () => {
    expect(speechBlocks('')).toEqual([]);
    expect(speechBlocks('```\nonly code\n```\n\n---')).toEqual([]);
  });

  it('joins into exactly what toSpeechText returns', () => {
    const replies = [
      'Thanks\n\nBye',
      '<think>plan</think>\n\n## Steps\n\n1. Install:\n   ```sh\n   npm i\n   ```\n2. Run it',
      '> **Tip:** keep `api_key` secret\n\n| Option | Default |\n|---|---|\n| `retries` | 3 |',
      'See [the guide][g] at https://docs.example.com/x.\n\n[g]: https://example.com/guide',
      '<div>\n<p>One</p>\n<p>Two</p>\n</div>\n\n- [ ] todo\n- [x] done,',
      '```\nonly code\n```',
    ];
    for (const reply of replies) expect(speechBlocks(reply).join(' ')).toBe(toSpeechText(reply));
  });
});

describe('crafted input', () => {
  it('reads a line nested thousands of lists deep as its words', () => {
    // Unguarded, the parser spends seconds on this and then runs out of stack.
    expect(toSpeechText('- '.repeat(5000) + 'deep item')).toBe('deep item.');
    expect(toSpeechText('> '.repeat(5000) + 'deep quote')).toBe('deep quote.');
  });

  it('keeps ordinary nesting as it is', () => {
    expect(speechBlocks('- a\n  - b\n    - c\n- d')).toEqual(['a. b. c.', 'd.']);
  });
});

describe('markup that matched nothing', () => {
  it('drops emphasis marks, backticks and brackets left as text', () => {
    expect(toSpeechText('**bold and *half and __strong')).toBe('bold and half and strong.');
    expect(toSpeechText('~~gone and `npm test')).toBe('gone and npm test.');
    expect(toSpeechText('The capital[1] and [the docs] here.')).toBe('The capital 1 and the docs here.');
  });

  it('keeps marks inside words or between spaces, a single tilde, and escaped marks', () => {
    expect(toSpeechText('Set max_retries, 5*4 and 2 * 3, in ~5 minutes.')).toBe('Set max_retries, 5*4 and 2 * 3, in ~5 minutes.');
    expect(toSpeechText('Use \\*args\\*, \\_x\\_, \\`y\\` and \\[1\\] ~~ok')).toBe('Use *args*, _x_, `y` and [1] ok.');
  });

  it('says nothing of a link destination, image or reference label still arriving', () => {
    expect(speechBlocks('See [the docs](https://exam')).toEqual(['See the docs.']);
    expect(speechBlocks('See [the docs](https://example.com/a_(b')).toEqual(['See the docs.']);
    expect(speechBlocks('Look: ![A cat. Asleep](https://x.te')).toEqual(['Look:']);
    expect(speechBlocks('See [the guide][gu')).toEqual(['See the guide.']);
    // Complete, they read as before.
    expect(speechBlocks('See [the docs](https://example.com/a_(b)) now.')).toEqual(['See the docs now.']);
  });

  it('reads the start of a paragraph as the start of its speech', () => {
    const paragraphs = [
      'Use **bold** and *italic* with `code`, see [the docs](https://example.com/a_(b)) and ![a cat](cat.png) now.',
      'Then ~~struck~~ text, __strong__ words, a [reference][ref] and a note[^1], all _in one_ go.',
      'Then `npm test` code, **nested *emphasis* marks** and a last ~~strike~~ here.',
    ];
    // Not so for a bare URL ("https://exa" reads "exa"), an HTML tag ("<b" reads "<b") or marks in
    // code not yet closed ("`f(*a" reads "f(a"): the segmenter says none of them before a later
    // sentence has begun, and by then they are complete, unless a sentence ends inside them.
    const squash = (s: string) => s.replace(/\s+/g, '');
    for (const paragraph of paragraphs) {
      const whole = squash(toSpeechText(paragraph));
      for (let at = 1; at < paragraph.length; at++) {
        // Not yet part of the whole: the full stop that closes every paragraph, and a "!" that may
        // turn out to start an image.
        const start = squash(toSpeechText(paragraph.slice(0, at))).replace(/[.!]$/, '');
        expect(whole.startsWith(start), JSON.stringify(paragraph.slice(0, at))).toBe(true);
      }
    }
  });
});

describe('speechSoFar', () => {
  it('settles every block but the last', () => {
    expect(speechSoFar('Intro.\n\n- one\n- tw')).toEqual({ blocks: ['Intro.', 'one.', 'tw.'], settled: 2 });
    expect(speechSoFar('')).toEqual({ blocks: [], settled: 0 });
  });

  it('settles the last block too once a unit with nothing to say begins after it on a complete line', () => {
    expect(speechSoFar('Here is the code:\n\n```js\nconst a').settled).toBe(1);
    expect(speechSoFar('Here is the code:\n\n```js').settled).toBe(0);
    // "#" may still become "#hashtag", part of the paragraph.
    expect(speechSoFar('A paragraph\n#').settled).toBe(0);
    expect(speechSoFar('A paragraph\n#\n').settled).toBe(1);
  });
});
