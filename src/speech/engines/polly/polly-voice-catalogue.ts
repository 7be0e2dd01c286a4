// The voices of Amazon Polly that the configured engine can speak with, from DescribeVoices.
import { DescribeVoicesCommand, type PollyClient, type Voice as PollyVoice } from '@aws-sdk/client-polly';
import type { PollyEngine } from '../../../config/env.ts';
import { describePollyError } from './polly-error.ts';
import type { Voice, VoiceCatalogue } from '../../synthesizer.ts';
import { SpeechError } from '../../../errors.ts';

export function createPollyVoiceCatalogue(opts: { client: PollyClient; engine: PollyEngine }): VoiceCatalogue {
  const { client, engine } = opts;
  // All voices, whatever their engines, so that problemWith can tell "unknown" from "wrong engine".
  // Polly's voice list changes a few times a year, so one fetch per process is enough. Concurrent
  // first callers share the request; a failed fetch is forgotten so that the next call tries again.
  let allVoices: Promise<Voice[]> | undefined;

  function voices(): Promise<Voice[]> {
    allVoices ??= fetchAllVoices(client).catch((error: unknown) => {
      allVoices = undefined;
      throw new SpeechError(`could not list Amazon Polly voices: ${describePollyError(error)}`, { cause: error });
    });
    return allVoices;
  }

  return {
    async list() {
      return (await voices()).filter((v) => v.engines.includes(engine));
    },

    async problemWith(voiceId) {
      const all = await voices();
      const voice = all.find((v) => v.id === voiceId);
      if (!voice) {
        // Polly's voice ids are case-sensitive ("Joanna"), an easy mistake to make in a request body.
        const near = all.find((v) => v.id.toLowerCase() === voiceId.toLowerCase());
        const hint = near ? ` (voice ids are case-sensitive: did you mean "${near.id}"?)` : '';
        return `voice "${voiceId}" is not a known Amazon Polly voice${hint}`;
      }
      if (!voice.engines.includes(engine)) {
        return `voice "${voiceId}" is not available on the Polly engine "${engine}" (it supports: ${voice.engines.join(', ')})`;
      }
      return null;
    },
  };
}

async function fetchAllVoices(client: PollyClient): Promise<Voice[]> {
  const voices: Voice[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new DescribeVoicesCommand({ NextToken: nextToken }));
    for (const v of page.Voices ?? []) {
      const voice = toVoice(v);
      if (voice) voices.push(voice);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return voices.sort(
    (a, b) => a.language_name.localeCompare(b.language_name) || a.name.localeCompare(b.name),
  );
}

function toVoice(v: PollyVoice): Voice | undefined {
  if (!v.Id) return undefined;
  return {
    id: v.Id,
    name: v.Name ?? v.Id,
    gender: v.Gender === 'Male' ? 'Male' : 'Female',
    language_code: v.LanguageCode ?? '',
    language_name: v.LanguageName ?? v.LanguageCode ?? '',
    engines: [...(v.SupportedEngines ?? [])],
  };
}
