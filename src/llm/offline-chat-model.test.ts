import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOfflineChatModel } from './offline-chat-model.ts';

const model = createOfflineChatModel();
const signal = new AbortController().signal;
const reply = (message: string, systemPrompt = '', history: { role: 'user' | 'model'; content: string }[] = []) =>
  model.reply({ systemPrompt, history, message, signal });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('offline chat model', () => {
  it('says it is no AI', () => {
    expect(model.provider).toBe('offline');
    expect(model.description).toBe('offline (no AI: deterministic replies)');
  });

  it('gives the same reply for the same persona and message', async () => {
    const first = await reply('What is the weather like today?', 'You are a cheerful guide.');
    const second = await reply('What is the weather like today?', 'You are a cheerful guide.');
    expect(second).toBe(first);
  });

  it('ignores the history, so repeated questions repeat the reply (and hit the audio cache)', async () => {
    const fresh = await reply('And then?', 'You are a storyteller.');
    const later = await reply('And then?', 'You are a storyteller.', [
      { role: 'user', content: 'Once upon a time' },
      { role: 'model', content: 'there was a fox.' },
    ]);
    expect(later).toBe(fresh);
  });

  it('varies with the message', async () => {
    const messages = ['Hello there', 'How are you?', 'Tell me a joke', 'What is the capital of France?', 'Goodbye'];
    const replies = await Promise.all(messages.map((m) => reply(m)));
    expect(new Set(replies).size).toBe(messages.length);
    // Not only the quote changes: the sentences around it are picked by the hash too.
    const withoutQuotes = new Set(replies.map((r) => r.replace(/"[^"]*"/g, '""')));
    expect(withoutQuotes.size).toBeGreaterThan(1);
  });

  it('varies with the persona for the same message', async () => {
    const pirate = await reply('Hello there', 'You are a pirate.');
    const librarian = await reply('Hello there', 'You are a quiet librarian.');
    expect(pirate).not.toBe(librarian);
  });

  it('quotes the start of the message on one line', async () => {
    const text = await reply('Please   explain\nhow "tides" work on the coast of Brittany in spring');
    expect(text).toContain(`"Please explain how 'tides' work on the coast...`);
    expect(text).not.toContain('\n');
  });

  it('keeps the quote short for text without spaces, so a long message never makes a long reply', async () => {
    const text = await reply('日'.repeat(10_000));
    expect(text).toContain(`"${'日'.repeat(80)}..."`);
    expect(text.length).toBeLessThan(400);
    expect(Array.from(await reply('🙂'.repeat(200))).join('')).toContain('🙂'.repeat(80) + '...');
  });

  it('never cuts an emoji in half, in the quote or in the persona line', async () => {
    // A lone surrogate (half of a UTF-16 pair) is what a cut by UTF-16 units leaves behind.
    const loneSurrogate = /\p{Cs}/u;
    const emoji = ['🙂', '🏴‍☠️', '👍🏽', '🇫🇷', '𝄞', '👩‍👩‍👧'];
    // Prefixes of 0 to 3 ASCII letters move the cut onto every offset within a pair.
    for (const prefix of ['', 'x', 'xy', 'xyz']) {
      for (const e of emoji) {
        const heavy = prefix + e.repeat(150);
        const asMessage = await reply(`${heavy} ${heavy}`);
        const asPersona = await reply('Hi', heavy);
        const asRole = await reply('Hi', `You are ${heavy}`);
        for (const text of [asMessage, asPersona, asRole]) {
          expect(text).not.toMatch(loneSurrogate);
          expect(encodeURIComponent(text)).toBeTypeOf('string'); // throws URIError on a lone surrogate
        }
        expect(asPersona).toMatch(/^My brief: x{0,3}\S+\.\.\. /u);
        expect(Array.from(asPersona.slice('My brief: '.length).split('... ')[0]!)).toHaveLength(120);
      }
    }
  });

  it("reflects the persona's first sentence", async () => {
    const asRole = await reply('Hi', 'You are a grumpy old sailor. Never use more than two sentences.');
    expect(asRole).toMatch(/^Speaking as a grumpy old sailor\. /);
    expect(asRole).not.toContain('two sentences');

    const asBrief = await reply('Hi', 'Answer like a museum guide. Be brief.');
    expect(asBrief).toMatch(/^My brief: Answer like a museum guide\. /);

    const noPersona = await reply('Hi');
    expect(noPersona).not.toMatch(/Speaking as|My brief/);
  });

  it('answers an empty message with plain sentences', async () => {
    const text = await reply('   ');
    expect(text).toContain('empty message');
    expect(text.split(/(?<=[.?!])\s+/).length).toBeGreaterThanOrEqual(3);
  });

  it('uses no network', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const connectSpy = vi.spyOn(net.Socket.prototype, 'connect');

    await reply('Is anyone out there?', 'You are a lighthouse keeper.');

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(connectSpy).not.toHaveBeenCalled();
  });
});
