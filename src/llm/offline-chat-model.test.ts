import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../config/env.ts';
import type { ChatModel, ChatRequest } from './chat-model.ts';
import { createChatModel } from './create-chat-model.ts';
import { createOfflineChatModel } from './offline-chat-model.ts';

const model = createOfflineChatModel();
const signal = new AbortController().signal;
const deltasOf = async (m: ChatModel, request: Omit<ChatRequest, 'signal'>) => {
  const deltas: string[] = [];
  for await (const delta of m.stream({ ...request, signal })) deltas.push(delta);
  return deltas;
};
const reply = async (message: string, systemPrompt = '', history: { role: 'user' | 'model'; content: string }[] = []) =>
  (await deltasOf(model, { systemPrompt, history, message })).join('');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('offline chat model', () => {
  it('says it is no AI', () => {
    expect(model.provider).toBe('offline');
    expect(model.description).toBe('offline (no AI: deterministic replies)');
  });

  it('streams its reply word by word, each word with the whitespace after it', async () => {
    const pirate = { systemPrompt: 'You are a pirate.', history: [] };
    const deltas = await deltasOf(model, { ...pirate, message: 'Where  is the\ttreasure?' });

    expect(deltas.length).toBeGreaterThan(10);
    for (const delta of deltas) expect(delta).toMatch(/^\S+\s*$/);
    expect(deltas.join('')).toMatch(/^Speaking as a pirate\. .*"Where is the treasure\?"/);
    // The reply of a limited model, cut short, streams the same way and ends without a space.
    const cut = await deltasOf(createOfflineChatModel({ maxOutputTokens: 5 }), { ...pirate, message: 'Hi' });
    expect(cut).toEqual(['Speaking ', 'as ', 'a']); // 20 characters end inside "pirate."
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

  describe('LLM_MAX_OUTPUT_TOKENS', () => {
    const limited = (maxOutputTokens: number) => createOfflineChatModel({ maxOutputTokens });
    const replyOf = async (m: ChatModel, message: string, systemPrompt = '') =>
      (await deltasOf(m, { systemPrompt, history: [], message })).join('');

    it('leaves the replies whole at the default of 2048', async () => {
      const configured = createChatModel(parseConfig({}).llm);
      for (const [message, persona] of [
        ['Where is the treasure?', 'You are a pirate.'],
        ['🙂'.repeat(500), '🙂'.repeat(500)],
        ['日'.repeat(10_000), ''],
      ] as const) {
        expect(await replyOf(configured, message, persona)).toBe(await reply(message, persona));
      }
    });

    it('cuts the reply to 4 characters a token at a word boundary: LLM_MAX_OUTPUT_TOKENS=5 leaves 20', async () => {
      const persona = 'You are a grumpy old sailor.';
      const full = await reply('How deep is the sea?', persona);
      const configured = createChatModel(parseConfig({ LLM_MAX_OUTPUT_TOKENS: '5' }).llm);

      const cut = await replyOf(configured, 'How deep is the sea?', persona);

      expect(full).toMatch(/^Speaking as a grumpy old sailor\. /);
      expect(cut).toBe('Speaking as a grumpy');
      expect(await replyOf(configured, 'How deep is the sea?', persona)).toBe(cut);
    });

    it('drops a word that does not fit whole', async () => {
      // 7 tokens are 28 characters, which end inside "sailor".
      expect(await replyOf(limited(7), 'How deep is the sea?', 'You are a grumpy old sailor.')).toBe('Speaking as a grumpy old');
      expect(await replyOf(limited(1), 'Hi', 'You are a pirate.')).toBe('Spea');
    });

    it('always gives a prefix of the full reply within the budget, never splitting a surrogate pair', async () => {
      const loneSurrogate = /\p{Cs}/u;
      // Cuts inside a word: a quoted run of emoji longer than the whole budget has no space to cut at.
      let insideWord = 0;
      for (const e of ['🙂', '🏴‍☠️', '👍🏽', '𝄞']) {
        for (const prefix of ['', 'x', 'xy']) {
          const message = prefix + e.repeat(150);
          const full = await reply(message);
          for (const tokens of [1, 2, 3, 5, 8, 13, 21, 34]) {
            const cut = await replyOf(limited(tokens), message);
            expect(full.startsWith(cut)).toBe(true);
            expect(cut.trim()).not.toBe('');
            expect(Array.from(cut).length).toBeLessThanOrEqual(tokens * 4);
            expect(cut).not.toMatch(loneSurrogate);
            if (!/\s/.test(full.charAt(cut.length)) && !/\s$/.test(cut)) insideWord += 1;
          }
        }
      }
      expect(insideWord).toBeGreaterThan(0);
    });
  });
});
