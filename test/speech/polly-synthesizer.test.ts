// The Polly synthesizer through the real SDK against the loopback Polly server.
import { execFile } from 'node:child_process';
import type { PollyClient } from '@aws-sdk/client-polly';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPollySynthesizer } from '../../src/speech/engines/polly/polly-synthesizer.ts';
import { SpeechError } from '../../src/errors.ts';
import { usePollyServer } from '../support/polly-fixture.ts';
import { FAKE_SPEECH_MS_PER_CHAR, fakeSpeechMp3, type PollyServer } from '../support/polly-server.ts';

const polly = usePollyServer();
// Plain names for the fixture's server and client, bound once it has started.
let server: PollyServer;
let client: PollyClient;
beforeAll(() => {
  ({ server, client } = polly);
});

/** Decodes MP3 with ffmpeg; returns seconds of audio and whatever ffmpeg complained about. */
function decode(mp3: Uint8Array): Promise<{ seconds: number; errors: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ffmpeg',
      ['-v', 'error', '-f', 'mp3', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', '22050', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(error);
        resolve({ seconds: stdout.length / 2 / 22050, errors: stderr.toString('utf8') });
      },
    );
    child.stdin!.end(mp3);
  });
}

describe('createPollySynthesizer', () => {
  it('names the engine and keeps to Polly’s 3000 billed characters', () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    expect(synth.id).toBe('polly-neural-mp3');
    expect(synth.maxChars).toBe(3000);
    // Polly's concurrency quota per account and region; the speech cache keeps to it.
    expect(synth.concurrency).toBe(8);
    expect(createPollySynthesizer({ client, engine: 'neural', concurrency: 3 }).concurrency).toBe(3);
    expect(createPollySynthesizer({ client, engine: 'long-form' }).id).toBe('polly-long-form-mp3');
  });

  it('sends the voice, engine, plain text type and mp3 format, and returns the MP3 Polly sent', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    const text = 'Hello there. <speak>This is not SSML.</speak>';

    const audio = await synth.synthesize(text, 'Matthew');

    expect(server.synthRequests).toEqual([
      { voiceId: 'Matthew', engine: 'neural', text, textType: 'text', outputFormat: 'mp3', sampleRate: undefined, status: 200 },
    ]);
    expect(Buffer.from(audio).equals(Buffer.from(fakeSpeechMp3(text)))).toBe(true);
    // Sent as text, so the tags are spoken and billed like any other characters.
    expect(server.billedCharacters).toBe(text.length);
  });

  it('gets real MP3 whose duration grows with the text', async () => {
    const synth = createPollySynthesizer({ client, engine: 'standard' });
    const short = await decode(await synth.synthesize('Hi.', 'Hans'));
    const longText = 'A sentence of about forty characters. '.repeat(20);
    const long = await decode(await synth.synthesize(longText, 'Hans'));

    expect(short.errors).toBe('');
    expect(long.errors).toBe('');
    expect(short.seconds).toBeGreaterThan(0.3);
    expect(short.seconds).toBeLessThan(1.5);
    const expected = (longText.length * FAKE_SPEECH_MS_PER_CHAR) / 1000;
    expect(long.seconds).toBeGreaterThan(expected * 0.9);
    expect(long.seconds).toBeLessThan(expected * 1.3);
  });

  it('lets the SDK retry a ThrottlingException', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    server.failNext(1, 'throttle');

    const audio = await synth.synthesize('Second time lucky.', 'Joanna');

    expect(audio.length).toBeGreaterThan(0);
    expect(server.synthRequests.map((r) => r.status)).toEqual([400, 200]);
    expect(server.billedCharacters).toBe('Second time lucky.'.length);
  });

  it('gives up after four attempts at a persistent 500 with a SpeechError naming Polly', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    server.failNext(10, 'failure');

    const error = await synth.synthesize('Never mind.', 'Joanna').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SpeechError);
    expect((error as Error).message).toBe(
      'Polly SynthesizeSpeech failed: ServiceFailureException: An internal error occurred',
    );
    expect(server.synthRequests.map((r) => r.status)).toEqual([500, 500, 500, 500]);
    expect(server.billedCharacters).toBe(0);
  });

  it('turns a dropped connection into a SpeechError', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    server.setOutage('reset');

    const error = await synth.synthesize('Anyone there?', 'Joanna').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SpeechError);
    expect((error as Error).message).toMatch(/^Polly SynthesizeSpeech failed: \S+/);
    expect(server.synthRequests).toHaveLength(4);
  });

  it('accepts 3000 characters, and the server rejects 3001 with TextLengthExceededException (not retried)', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    await expect(synth.synthesize('x'.repeat(3000), 'Joanna')).resolves.toBeInstanceOf(Uint8Array);
    server.reset();

    const error = await synth.synthesize('x'.repeat(3001), 'Joanna').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SpeechError);
    expect((error as Error).message).toMatch(
      /^Polly SynthesizeSpeech failed: TextLengthExceededException: Maximum text length has been exceeded/,
    );
    expect(server.synthRequests.map((r) => r.status)).toEqual([400]);
    expect(server.billedCharacters).toBe(0);
  });

  it('reports a voice that the engine does not have, and an unknown voice, as Polly does', async () => {
    const neural = createPollySynthesizer({ client, engine: 'neural' });

    await expect(neural.synthesize('Guten Tag.', 'Hans')).rejects.toThrow(
      /^Polly SynthesizeSpeech failed: EngineNotSupportedException: /,
    );
    await expect(neural.synthesize('Hello.', 'Nobody')).rejects.toThrow(
      /^Polly SynthesizeSpeech failed: ValidationException: .*'Nobody' at 'voiceId'/,
    );
    expect(server.synthRequests.map((r) => [r.voiceId, r.status])).toEqual([
      ['Hans', 400],
      ['Nobody', 400],
    ]);
  });

  it('waits as long as the scripted latency', async () => {
    const synth = createPollySynthesizer({ client, engine: 'neural' });
    server.setLatency((text) => 150 + text.length);
    const started = performance.now();

    await synth.synthesize('x'.repeat(100), 'Joanna');

    expect(performance.now() - started).toBeGreaterThanOrEqual(245);
    server.setLatency(() => 0);
  });
});
