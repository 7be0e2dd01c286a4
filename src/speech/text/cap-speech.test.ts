import { describe, expect, it } from 'vitest';
import { capSpeech, CUT_NOTE } from './cap-speech.ts';

const NOTE = 'Cut here.'; // 9 characters: a room of maxChars - 11

describe('capSpeech', () => {
  it('leaves text within the cap alone, whitespace and all', () => {
    expect(capSpeech('Short and sweet.', 100)).toBe('Short and sweet.');
    const exact = 'x'.repeat(100);
    expect(capSpeech(exact, 100)).toBe(exact);
  });

  it('cuts at the last sentence end near the limit and adds the note, within the cap', () => {
    const text = 'One two three. Four five six. Seven eight nine ten eleven.';
    // maxChars 40: room 29, so "One two three. Four five six." (29) fits exactly.
    expect(capSpeech(text, 40, { note: NOTE })).toBe('One two three. Four five six. Cut here.');
    expect(capSpeech(text, 39, { note: NOTE })).not.toContain('six.');
    for (let max = 12; max <= text.length + 5; max++) {
      expect(capSpeech(text, max, { note: NOTE }).length, String(max)).toBeLessThanOrEqual(max);
    }
  });

  it('keeps closing quotes with their sentence and cuts after CJK full stops', () => {
    expect(capSpeech('Then he said "stop." And he went on and on.', 31, { note: NOTE })).toBe('Then he said "stop." Cut here.');
    expect(capSpeech('你好。今天天气很好。我们去公园散步吧，好吗？那里有很多花。', 21, { note: NOTE })).toBe('你好。今天天气很好。 Cut here.');
  });

  it('prefers a clause end, then a word end, when no sentence ends near the limit', () => {
    const clause = 'a'.repeat(40) + ' words go here, and more words follow without a stop';
    expect(capSpeech(clause, 70, { note: NOTE })).toBe(`${'a'.repeat(40)} words go here… ${NOTE}`);
    const words = 'a'.repeat(40) + ' plain words run on without any punctuation at all';
    expect(capSpeech(words, 70, { note: NOTE })).toBe(`${'a'.repeat(40)} plain words run on… ${NOTE}`);
  });

  it('ignores a sentence end too far back, rather than dropping most of the room', () => {
    const text = 'Short. ' + 'word '.repeat(400);
    const capped = capSpeech(text, 1000, { note: NOTE });
    expect(capped.length).toBeGreaterThan(900);
    expect(capped.length).toBeLessThanOrEqual(1000);
    expect(capped.endsWith(`word… ${NOTE}`)).toBe(true);
  });

  it('cuts one endless word at the limit, never inside a surrogate pair', () => {
    expect(capSpeech('x'.repeat(50), 30, { note: NOTE })).toBe(`${'x'.repeat(19)}… ${NOTE}`);
    // Emoji are two UTF-16 units; the 19th unit is the first half of the tenth emoji.
    const emoji = '😀'.repeat(30);
    const capped = capSpeech(emoji, 30, { note: NOTE });
    expect(capped).toBe(`${'😀'.repeat(9)}… ${NOTE}`);
    expect(capped).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('cuts a partial text near its own end and adds the note even when it fits', () => {
    expect(capSpeech('One two. Three fo', 100, { note: NOTE, partial: true })).toBe(`One two. ${NOTE}`);
    expect(capSpeech('One two. Three four.', 100, { note: NOTE, partial: true })).toBe(`One two. Three four. ${NOTE}`);
    // Its last word may be cut in half, so the cut goes before it.
    expect(capSpeech('no stop at all here', 100, { note: NOTE, partial: true })).toBe(`no stop at all… ${NOTE}`);
    expect(capSpeech('', 100, { note: NOTE, partial: true })).toBe(NOTE);
    const long = 'Lorem ipsum dolor sit amet. '.repeat(50);
    expect(capSpeech(long, 200, { note: NOTE, partial: true })).toBe(capSpeech(long, 200, { note: NOTE }));
  });

  it('says the default note, and refuses a cap with no room for it', () => {
    const capped = capSpeech('Lorem ipsum dolor sit amet. '.repeat(50), 200);
    expect(capped.endsWith(` ${CUT_NOTE}`)).toBe(true);
    expect(capped.length).toBeLessThanOrEqual(200);
    expect(() => capSpeech('anything at all', CUT_NOTE.length + 2)).toThrow(RangeError);
    expect(() => capSpeech('anything at all', 100.5)).toThrow(RangeError);
  });
});
