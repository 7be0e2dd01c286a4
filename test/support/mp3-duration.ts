// The playing time of an MP3 from its audio frames, as the product's own frame parser finds them: a
// check that needs no ffprobe, exact to the sample (a Xing/Info header frame is not counted).
import { audioFrames } from '../../src/speech/mp3.ts';

export function mp3DurationSeconds(mp3: Uint8Array): number {
  return audioFrames(mp3).reduce((seconds, f) => seconds + f.samples / f.sampleRate, 0);
}
