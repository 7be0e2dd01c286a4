// The voices the offline engine can speak: the Polly voices that have an eSpeak mapping, so that
// GET /api/voices and persona validation use the same ids offline as with Polly.
import { espeakVoiceFor } from './espeak-voices.ts';
import type { Voice, VoiceCatalogue } from '../../synthesizer.ts';
import { POLLY_VOICE_TABLE } from '../../polly-voice-table.ts';

export function createEspeakVoiceCatalogue(): VoiceCatalogue {
  const voices: Voice[] = POLLY_VOICE_TABLE.filter((voice) => espeakVoiceFor(voice.id) !== undefined).map((voice) => ({
    ...voice,
    engines: ['espeak'],
  }));
  return {
    list: () => Promise.resolve(voices.map((voice) => ({ ...voice, engines: [...voice.engines] }))),
    problemWith: (voiceId) =>
      Promise.resolve(
        espeakVoiceFor(voiceId) === undefined
          ? `voice "${voiceId}" is not a known voice; GET /api/voices lists the voices`
          : null,
      ),
  };
}
