// The Amazon Polly engine: one SynthesizeSpeech call per piece of speech text, MP3 out.
import { SynthesizeSpeechCommand, type PollyClient, type VoiceId } from '@aws-sdk/client-polly';
import type { PollyEngine } from '../../../config/env.ts';
import { describePollyError, isRefusalOfInput } from './polly-error.ts';
import type { Synthesizer } from '../../synthesizer.ts';
import { SpeechError } from '../../../errors.ts';

/**
 * SynthesizeSpeech accepts at most 3000 billed characters per call (6000 in total including SSML
 * tags) and answers anything longer with TextLengthExceededException. We send plain text, where
 * every character is billed, so the chunker must cut the speech text into pieces of at most this.
 */
export const POLLY_MAX_BILLED_CHARS = 3000;

/**
 * Polly's default quota for the neural engine: 8 transactions per second and about 8 concurrent
 * requests per account and region. More calls in flight only earn ThrottlingExceptions and retries.
 * The quota is per account, so several processes share it; the SDK's retries absorb the overlap.
 */
export const POLLY_CONCURRENCY = 8;

export function createPollySynthesizer(opts: { client: PollyClient; engine: PollyEngine; concurrency?: number }): Synthesizer {
  const { client, engine } = opts;
  return {
    id: `polly-${engine}-mp3`,
    maxChars: POLLY_MAX_BILLED_CHARS,
    concurrency: opts.concurrency ?? POLLY_CONCURRENCY,
    async synthesize(text, voiceId) {
      let audio: Uint8Array | undefined;
      try {
        const out = await client.send(
          new SynthesizeSpeechCommand({
            Engine: engine,
            OutputFormat: 'mp3',
            // Always plain text: LLM output sent as SSML could inject tags (or fail to parse).
            TextType: 'text',
            Text: text,
            VoiceId: voiceId as VoiceId,
          }),
        );
        // The SDK retries only until the response headers; the body is read here, in full.
        audio = await out.AudioStream?.transformToByteArray();
      } catch (error) {
        throw new SpeechError(`Polly SynthesizeSpeech failed: ${describePollyError(error)}`, {
          cause: error,
          permanent: isRefusalOfInput(error),
        });
      }
      if (!audio || audio.length === 0) {
        throw new SpeechError(`Polly SynthesizeSpeech returned no audio for voice "${voiceId}"`);
      }
      return audio;
    },
  };
}
