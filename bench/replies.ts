// The texts the benchmarks send and receive: plain prose of a chosen length, and markdown replies
// with code, links and lists whose spoken part is shorter than the raw text (what Polly must not bill).
import { seededRandom } from './stats.ts';

const WORDS = (
  'voice audio reply history session answer question message cache storage bucket sentence speech ' +
  'persona model request latency record window river garden morning lantern harbor meadow signal ' +
  'simple careful quiet bright steady useful honest patient clear gentle rapid distant'
).split(' ');

function sentence(random: () => number): string {
  const count = 6 + Math.floor(random() * 10);
  const words = Array.from({ length: count }, () => WORDS[Math.floor(random() * WORDS.length)]!);
  const first = words[0]!;
  words[0] = first[0]!.toUpperCase() + first.slice(1);
  return words.join(' ') + '.';
}

/** Plain sentences of about `chars` characters (never more), opening with `tag` so each text is unique. */
export function proseReply(tag: string, chars: number, seed = hashSeed(tag)): string {
  const random = seededRandom(seed);
  let text = `${tag}.`;
  for (;;) {
    const next = `${text} ${sentence(random)}`;
    if (next.length > chars) return text;
    text = next;
  }
}

/**
 * A markdown reply of a few hundred characters: a heading, emphasis, a list, a link and (every other
 * one) a fenced code block. `tag` makes its spoken part unique, so distinct replies never share
 * speech text.
 */
export function markdownReply(tag: string, seed = hashSeed(tag)): string {
  const random = seededRandom(seed);
  const parts = [
    `## ${tag}`,
    `Here is **the short answer**: ${sentence(random)} ${sentence(random)}`,
    `- ${sentence(random)}\n- ${sentence(random)}\n- see [the guide](https://example.com/guide/${seed % 97}) for more`,
  ];
  if (seed % 2 === 0) {
    parts.push('```ts\nconst audio = await speech.ensure(reply, voice);\nconsole.log(audio.url);\n```');
  }
  parts.push(`_${sentence(random)}_`);
  return parts.join('\n\n');
}

/** A user message of about 80 characters. */
export function userMessage(tag: string): string {
  return `${tag}: ${sentence(seededRandom(hashSeed(tag)))}`.slice(0, 120);
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
