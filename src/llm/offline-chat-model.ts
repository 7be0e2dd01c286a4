// The LLM that needs no network and no key. It is not an AI: it builds a short reply from the persona
// and the message so that the whole voice pipeline can run on a machine without credentials. The
// reply is streamed word by word, like a real model's.
//
// The reply depends on (systemPrompt, message) only, never on history: asking the same thing twice
// gives the same text, which is what lets the audio cache show hits in offline demos and tests.
import { createHash } from 'node:crypto';
import type { ChatModel, ChatRequest } from './chat-model.ts';

/** Words of the user's message quoted back... */
const QUOTE_WORDS = 8;
/** ...and at most this many characters (code points) of them: text without spaces (Chinese, Japanese) is one word. */
const QUOTE_CHARS = 80;
/** Characters (code points) of the persona's first sentence reflected in the reply. */
const PERSONA_CHARS = 120;
/**
 * Characters (code points) counted as one token when the reply is cut to LLM_MAX_OUTPUT_TOKENS.
 * About 4 is the usual rule of thumb for English on the subword tokenizers real models use.
 * Characters rather than words, because text without spaces (a Chinese or emoji message) is quoted
 * as a single word of up to QUOTE_CHARS, which a word count would let through whole.
 */
const CHARS_PER_TOKEN = 4;

const OPENERS: ReadonlyArray<(quote: string) => string> = [
  (q) => `You said "${q}".`,
  (q) => `So, "${q}".`,
  (q) => `"${q}", you say.`,
  (q) => `Thank you for writing "${q}".`,
  (q) => `Let me think about "${q}".`,
  (q) => `I heard "${q}".`,
];

const MIDDLES: readonly string[] = [
  'That is a fair point, and it deserves a careful answer.',
  'There is more than one way to look at that.',
  'I would start with the simplest explanation and build from there.',
  'That reminds me that small details often matter most.',
  'It is a good question to ask out loud.',
  'Let us take it one step at a time.',
  'Many people wonder about exactly that.',
];

const CLOSERS: readonly string[] = [
  'This is an offline reply, written without an AI.',
  'Ask me again and you will hear the same answer, because I am running offline.',
  'Tell me more, and I will do my best with what I have offline.',
  'I am the offline stand-in, so my answers are simple but always the same.',
  'What would you like to talk about next?',
];

export interface OfflineChatModelOptions {
  /** The longest reply, in tokens (LLM_MAX_OUTPUT_TOKENS). Unset: no cut; the replies are short. */
  maxOutputTokens?: number;
}

export function createOfflineChatModel(opts: OfflineChatModelOptions = {}): ChatModel {
  return {
    provider: 'offline',
    description: 'offline (no AI: deterministic replies)',
    async *stream(request: ChatRequest): AsyncGenerator<string, void, undefined> {
      const full = offlineReply(request.systemPrompt, request.message);
      const text = opts.maxOutputTokens === undefined ? full : cutToTokens(full, opts.maxOutputTokens);
      // Word by word, each with the whitespace after it, so that the deltas join to the reply exactly.
      // No delay between words: tests and offline demos want the reply at once.
      for (const word of text.match(/\s*\S+\s*/g) ?? []) yield word;
    },
  };
}

/**
 * The reply cut to about `maxTokens` tokens at the last word that fits. No ellipsis: a real model's
 * reply just stops at its limit, and the mark would cost characters beyond the budget. A first word
 * longer than the whole budget is cut by code points, so a surrogate pair is never split.
 */
function cutToTokens(text: string, maxTokens: number): string {
  const budget = maxTokens * CHARS_PER_TOKEN;
  // A string's UTF-16 length is never below its count of code points: no need to split short replies.
  if (text.length <= budget) return text;
  const chars = Array.from(text);
  if (chars.length <= budget) return text;
  const head = chars.slice(0, budget).join('');
  // When a space comes right after the budget, the head already ends with a whole word.
  if (/\s/.test(chars[budget]!)) return head.trimEnd();
  return head.replace(/\s+\S*$/, '') || head;
}

function offlineReply(systemPrompt: string, message: string): string {
  const digest = createHash('sha256').update(`${systemPrompt}\u0000${message}`, 'utf8').digest();
  const pick = <T>(items: readonly T[], byte: number): T => items[digest[byte]! % items.length]!;

  const quote = quoteOf(message);
  const sentences = [
    personaLine(systemPrompt),
    quote ? pick(OPENERS, 0)(quote) : 'You sent me an empty message.',
    pick(MIDDLES, 1),
    pick(CLOSERS, 2),
  ];
  return sentences.filter((s): s is string => Boolean(s)).join(' ');
}

/** The first few words of the message on one line, with double quotes swapped so they nest. */
function quoteOf(message: string): string {
  const words = message.replace(/"/g, "'").split(/\s+/).filter(Boolean);
  const quote = words.slice(0, QUOTE_WORDS).join(' ');
  // Cut by code points, so that an emoji or a surrogate pair is never split.
  const chars = Array.from(quote);
  if (chars.length > QUOTE_CHARS) return `${chars.slice(0, QUOTE_CHARS).join('')}...`;
  return words.length > QUOTE_WORDS ? `${quote}...` : quote.replace(/\.+$/, '');
}

/** The persona's first sentence, turned around when it addresses the model ("You are a pirate."). */
function personaLine(systemPrompt: string): string | undefined {
  const flat = systemPrompt.replace(/\s+/g, ' ').trim();
  if (!flat) return undefined;
  let first = (/^.*?[.!?](?=\s|$)/.exec(flat)?.[0] ?? flat).replace(/[.!?]+$/, '');
  let end = '.';
  // By code points, like the quote: a prompt of emoji without spaces is never cut inside a pair.
  const chars = Array.from(first);
  if (chars.length > PERSONA_CHARS) {
    first = chars.slice(0, PERSONA_CHARS).join('').replace(/\s+\S*$/, '');
    end = '...';
  }
  const role = /^you(?: are|'re)\s+(.+)$/i.exec(first)?.[1];
  return role ? `Speaking as ${role}${end}` : `My brief: ${first}${end}`;
}
