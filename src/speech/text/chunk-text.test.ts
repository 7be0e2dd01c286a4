import { describe, expect, it } from 'vitest';
import { splitForSpeech } from './chunk-text.ts';

const squash = (s: string): string => s.replace(/\s+/g, '');

function expectValid(text: string, pieces: string[], maxChars: number): void {
  for (const piece of pieces) {
    expect(piece.length).toBeGreaterThan(0);
    expect(piece.length).toBeLessThanOrEqual(maxChars);
    expect(piece).toBe(piece.trim());
  }
  expect(squash(pieces.join(' '))).toBe(squash(text));
}

describe('splitForSpeech', () => {
  it('returns short text as one piece', () => {
    expect(splitForSpeech('Hello there. How are you?', 3000)).toEqual(['Hello there. How are you?']);
  });

  it('returns no pieces for empty or blank text', () => {
    expect(splitForSpeech('', 100)).toEqual([]);
    expect(splitForSpeech(' \n\t ', 100)).toEqual([]);
  });

  it('collapses whitespace', () => {
    expect(splitForSpeech('  a \n\n b  ', 100)).toEqual(['a b']);
  });

  it('packs consecutive sentences up to the limit', () => {
    const text = 'One two. Three four. Five six. Seven eight.';
    expect(splitForSpeech(text, 20)).toEqual(['One two. Three four.', 'Five six.', 'Seven eight.']);
    expect(splitForSpeech(text, 21)).toEqual(['One two. Three four.', 'Five six.', 'Seven eight.']);
    expect(splitForSpeech(text, 22)).toEqual(['One two. Three four.', 'Five six. Seven eight.']);
  });

  it('breaks after ! ? … and closing quotes', () => {
    expect(splitForSpeech('Wow! Really? "Yes." Fine… ok', 7)).toEqual(['Wow!', 'Really?', '"Yes."', 'Fine…', 'ok']);
    expect(splitForSpeech('Wow! Really? "Yes." Fine… ok', 8)).toEqual(['Wow!', 'Really?', '"Yes."', 'Fine… ok']);
  });

  it('breaks after CJK full stops that have no following space', () => {
    expect(splitForSpeech('今日は晴れです。明日は雨です。', 8)).toEqual(['今日は晴れです。', '明日は雨です。']);
  });

  it('splits a long sentence at clause boundaries', () => {
    const text = 'First clause here, second clause there; third one: fourth — fifth – sixth.';
    const pieces = splitForSpeech(text, 30);
    expect(pieces).toEqual(['First clause here,', 'second clause there;', 'third one: fourth — fifth –', 'sixth.']);
    expectValid(text, pieces, 30);
  });

  it('splits at an unspaced dash', () => {
    expect(splitForSpeech('alphabetical—betamaxes', 14)).toEqual(['alphabetical—', 'betamaxes']);
  });

  it('falls back to words when a clause is too long', () => {
    expect(splitForSpeech('one two three four five six', 10)).toEqual(['one two', 'three four', 'five six']);
  });

  it('hard-splits a single giant word', () => {
    expect(splitForSpeech('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(splitForSpeech(`Short. ${'x'.repeat(25)} end.`, 10)).toEqual(['Short.', 'xxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx end.']);
  });

  it('never cuts a surrogate pair in half', () => {
    const pieces = splitForSpeech('😀😀😀', 3);
    expect(pieces).toEqual(['😀', '😀', '😀']);
  });

  it('keeps Polly pieces within 3000 characters and at sentence ends', () => {
    const sentence = 'This sentence is exactly fifty characters long ok.';
    expect(sentence.length).toBe(50);
    const text = Array.from({ length: 130 }, () => sentence).join(' ');
    const pieces = splitForSpeech(text, 3000);
    expect(pieces.length).toBe(3);
    for (const piece of pieces) expect(piece.endsWith('ok.')).toBe(true);
    expectValid(text, pieces, 3000);
  });

  it('rejects a limit too small to make progress', () => {
    expect(() => splitForSpeech('abc', 1)).toThrow(RangeError);
    expect(() => splitForSpeech('abc', 2.5)).toThrow(RangeError);
  });

  it('keeps its guarantees on random inputs', () => {
    // A small seeded generator, so that a failure can be reproduced.
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const tokens = ['a', 'word', 'longerword', 'x'.repeat(40), '.', ',', ';', ':', '!', '?', '—', '–', '…', '"', '😀', '。', ' ', '  ', '\n', '\t'];
    for (let round = 0; round < 500; round++) {
      const length = Math.floor(random() * 120);
      let text = '';
      for (let i = 0; i < length; i++) text += tokens[Math.floor(random() * tokens.length)] ?? '';
      const maxChars = 2 + Math.floor(random() * 60);
      const pieces = splitForSpeech(text, maxChars);
      expectValid(text, pieces, maxChars);
    }
  });
});
