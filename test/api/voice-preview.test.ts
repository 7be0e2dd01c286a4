// GET /api/voices/{voice_id}/preview: a 302 to an MP3 of the voice saying a sample sentence in its
// language, stored under the audio key rule and so synthesized once per voice, ever. Run on the
// embedded defaults (eSpeak, local files), on Polly and S3 (the loopback servers, real SDK clients),
// and in AUTH_MODE=required with the message limit.
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SPEECH_MAX_CHARS } from '../../src/speech/speech-cache.ts';
import { createSegmenter } from '../../src/speech/text/segmenter.ts';
import { ENGLISH_SAMPLE, SAMPLE_SENTENCES, sampleSentenceFor } from '../../src/voices/voice-preview.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { probeMp3 } from '../support/ffprobe.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const sha = (text: string, voice: string) => createHash('sha256').update(text + voice).digest('hex');
const previewOf = (t: TestApp, voice: string, opts: { headers?: Record<string, string>; from?: string } = {}) =>
  t.app.inject({
    method: 'GET',
    url: `/api/voices/${voice}/preview`,
    headers: opts.headers ?? {},
    ...(opts.from ? { remoteAddress: opts.from } : {}),
  });

/** A 302 to the preview, which the caller must not cache; returns its Location. */
function expectRedirect(res: LightMyRequestResponse): string {
  expect(res.statusCode, res.body).toBe(302);
  expect(res.headers['cache-control']).toBe('no-store');
  const location = res.headers.location;
  expect(typeof location).toBe('string');
  return location as string;
}

function expectError(res: LightMyRequestResponse, status: number, message: RegExp | string) {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json();
  expect(body.statusCode).toBe(status);
  if (typeof message === 'string') expect(body.message).toContain(message);
  else expect(body.message).toMatch(message);
}

describe('the sample sentences', () => {
  it('are picked by the language part of language_code, with aliases, and English for the rest', () => {
    expect(sampleSentenceFor('en-US')).toBe(ENGLISH_SAMPLE);
    expect(sampleSentenceFor('en-GB-WLS')).toBe(ENGLISH_SAMPLE);
    expect(sampleSentenceFor('de-AT')).toBe(SAMPLE_SENTENCES.de);
    expect(sampleSentenceFor('cmn-CN')).toBe(SAMPLE_SENTENCES.zh);
    expect(sampleSentenceFor('arb')).toBe(SAMPLE_SENTENCES.ar);
    expect(sampleSentenceFor('nb-NO')).toBe(SAMPLE_SENTENCES.nb);
    expect(sampleSentenceFor('xx-YY')).toBe(ENGLISH_SAMPLE);
    expect(sampleSentenceFor('')).toBe(ENGLISH_SAMPLE);
    // Short: one or two sentences, not a paragraph.
    for (const sentence of Object.values(SAMPLE_SENTENCES)) expect([...sentence].length).toBeLessThanOrEqual(90);
    expect(new Set(Object.values(SAMPLE_SENTENCES)).size).toBe(Object.keys(SAMPLE_SENTENCES).length);
  });

  it('are each spoken whole, in one engine call', () => {
    for (const [language, sentence] of Object.entries(SAMPLE_SENTENCES)) {
      const segmenter = createSegmenter({ maxChars: 1200, maxSpeechChars: DEFAULT_SPEECH_MAX_CHARS });
      const segments = [...segmenter.push(sentence), ...segmenter.end()];
      expect(segments, language).toHaveLength(1);
      // As written, but for the '.' that speech-text.ts adds after an end mark it does not know (Hindi's '।').
      expect(segments[0]!.startsWith(sentence), `${language}: ${segments[0]}`).toBe(true);
    }
  });

  it('cover every language of the offline catalogue', async () => {
    const t = await startTestApp();
    try {
      const voices = (await t.app.inject({ method: 'GET', url: '/api/voices' })).json() as Array<{ language_code: string }>;
      const english = voices.filter((v) => sampleSentenceFor(v.language_code) === ENGLISH_SAMPLE);
      expect(english.every((v) => v.language_code.startsWith('en-'))).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('voice previews on the embedded defaults (eSpeak, local files)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  async function download(url: string) {
    const res = await t.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/mpeg');
    return new Uint8Array(res.rawPayload);
  }

  it('redirects to an MP3 of the voice saying the English sample, named sha256(sentence + voice_id).mp3', async () => {
    const res = await previewOf(t, 'Joanna');
    const location = expectRedirect(res);
    expect(res.body).toBe('');
    expect(location).toBe(`/audio/espeak-v1-mp3/${sha(ENGLISH_SAMPLE, 'Joanna')}.mp3`);
    const probed = await probeMp3(await download(location));
    expect(probed.codec).toBe('mp3');
    // A sentence of speech, not a blip.
    expect(probed.durationSeconds).toBeGreaterThan(1);
  });

  it('makes a preview once: the second one names the same file and does not write it again', async () => {
    const first = expectRedirect(await previewOf(t, 'Matthew'));
    const file = path.join(t.dataDir, 'audio', first.replace(/^\/audio\//, ''));
    const written = statSync(file).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(expectRedirect(await previewOf(t, 'Matthew'))).toBe(first);
    expect(statSync(file).mtimeMs).toBe(written);
  });

  it("speaks a German voice's sample in German", async () => {
    const vicki = ((await t.app.inject({ method: 'GET', url: '/api/voices' })).json() as Array<{ id: string; language_code: string }>).find(
      (v) => v.id === 'Vicki',
    );
    expect(vicki?.language_code).toBe('de-DE');
    expect(SAMPLE_SENTENCES.de).not.toBe(ENGLISH_SAMPLE);

    const location = expectRedirect(await previewOf(t, 'Vicki'));
    expect(location).toBe(`/audio/espeak-v1-mp3/${sha(SAMPLE_SENTENCES.de!, 'Vicki')}.mp3`);
    expect(location).not.toBe(`/audio/espeak-v1-mp3/${sha(ENGLISH_SAMPLE, 'Vicki')}.mp3`);
    expect((await probeMp3(await download(location))).durationSeconds).toBeGreaterThan(1);
  });

  it('answers 404 naming a voice the engine cannot speak', async () => {
    expectError(await previewOf(t, 'Zorg'), 404, '"Zorg"');
  });

  it('answers 400 naming the parameter for a malformed voice id, before the engine sees it', async () => {
    for (const bad of ['Jo%20anna', 'a'.repeat(65), 'Jo.anna', '%C3%A9', 'Joanna%0A']) {
      expectError(await previewOf(t, bad), 400, 'params/voice_id');
    }
    // 64 characters is well-formed, and then simply not a voice.
    expectError(await previewOf(t, 'a'.repeat(64)), 404, `"${'a'.repeat(64)}"`);
  });
});

describe('voice previews with Polly and S3', () => {
  let s3: S3TestServer;
  let polly: PollyServer;
  let gemini: GeminiServer;
  let t: TestApp;
  const env = () => ({ ...awsTestEnv({ s3, polly, gemini }), LLM_PROVIDER: 'offline' });
  const s3Url = (sentence: string, voice: string) => `${s3.endpoint}/${s3.bucket}/polly-neural-mp3/${sha(sentence, voice)}.mp3`;

  beforeAll(async () => {
    [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
    t = await startTestApp(env());
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
  });
  beforeEach(() => polly.reset());

  it('synthesizes a voice once, however often and however concurrently it is previewed', async () => {
    const sequential = [expectRedirect(await previewOf(t, 'Matthew')), expectRedirect(await previewOf(t, 'Matthew'))];
    const concurrent = (await Promise.all(Array.from({ length: 5 }, () => previewOf(t, 'Matthew')))).map(expectRedirect);
    expect(polly.synthRequests).toHaveLength(1);
    expect(polly.synthRequests[0]).toMatchObject({ voiceId: 'Matthew', engine: 'neural', textType: 'text', text: ENGLISH_SAMPLE, status: 200 });
    const location = s3Url(ENGLISH_SAMPLE, 'Matthew');
    expect(new Set([...sequential, ...concurrent])).toEqual(new Set([location]));

    const audio = await fetch(location);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/mpeg');
    expect((await probeMp3(new Uint8Array(await audio.arrayBuffer()))).codec).toBe('mp3');

    // Another voice makes its own call, once.
    expect(expectRedirect(await previewOf(t, 'Amy'))).toBe(s3Url(ENGLISH_SAMPLE, 'Amy'));
    expect(expectRedirect(await previewOf(t, 'Matthew'))).toBe(location);
    expect(polly.synthRequests.map((r) => r.voiceId)).toEqual(['Matthew', 'Amy']);
  });

  it('shares one synthesis between concurrent first previews of a voice', async () => {
    polly.setLatency(() => 300);
    const locations = (await Promise.all(Array.from({ length: 5 }, () => previewOf(t, 'Joey')))).map(expectRedirect);
    expect(polly.synthRequests).toHaveLength(1);
    expect(new Set(locations)).toEqual(new Set([s3Url(ENGLISH_SAMPLE, 'Joey')]));
  });

  it("sends Polly the sample in the voice's language", async () => {
    expect(expectRedirect(await previewOf(t, 'Lea'))).toBe(s3Url(SAMPLE_SENTENCES.fr!, 'Lea'));
    expect(expectRedirect(await previewOf(t, 'Daniel'))).toBe(s3Url(SAMPLE_SENTENCES.de!, 'Daniel'));
    expect(polly.synthRequests.map((r) => [r.voiceId, r.text])).toEqual([
      ['Lea', SAMPLE_SENTENCES.fr],
      ['Daniel', SAMPLE_SENTENCES.de],
    ]);
  });

  it('answers 404 naming an unknown voice, or one not available on POLLY_ENGINE, and asks Polly for no speech', async () => {
    expectError(await previewOf(t, 'Zorg'), 404, /"Zorg" is not a known Amazon Polly voice/);
    expectError(await previewOf(t, 'Nicole'), 404, /"Nicole" is not available on the Polly engine "neural"/);
    expectError(await previewOf(t, 'matthew'), 404, /"matthew".*did you mean "Matthew"/);
    expect(polly.synthRequests).toHaveLength(0);
  });

  it('answers 503 saying speech failed while Polly fails, and 302 once it is back', async () => {
    const recover = polly.failWhere((r) => r.voiceId === 'Brian', 'failure');
    const failed = await previewOf(t, 'Brian');
    expectError(failed, 503, /speech failed for the preview of voice "Brian": Polly SynthesizeSpeech failed: ServiceFailureException/);
    expect(failed.headers.location).toBeUndefined();
    expect(polly.synthRequests.length).toBeGreaterThanOrEqual(1);
    expect(polly.synthRequests.every((r) => r.status === 500)).toBe(true);

    recover();
    polly.reset();
    expect(expectRedirect(await previewOf(t, 'Brian'))).toBe(s3Url(ENGLISH_SAMPLE, 'Brian'));
    expect(polly.synthRequests.map((r) => r.status)).toEqual([200]);
  });

  it('answers 503 when the preview is not ready within SPEECH_TIMEOUT_MS, and stores it for the next request', async () => {
    const slow = await startTestApp({ ...env(), SPEECH_TIMEOUT_MS: '200' });
    try {
      const held = polly.hold((r) => r.voiceId === 'Emma');
      expectError(await previewOf(slow, 'Emma'), 503, /preview of voice "Emma" was not ready within 200 ms \(SPEECH_TIMEOUT_MS\)/);
      expect(held.waiting).toBe(1);
      held.release();
      const key = `polly-neural-mp3/${sha(ENGLISH_SAMPLE, 'Emma')}.mp3`;
      const deadline = Date.now() + 10_000;
      while (!(await slow.product.store.has(key)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(expectRedirect(await previewOf(slow, 'Emma'))).toBe(s3Url(ENGLISH_SAMPLE, 'Emma'));
      expect(polly.synthRequests.filter((r) => r.voiceId === 'Emma')).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });
});

describe('voice previews in AUTH_MODE=required', () => {
  const ADMIN_KEY = `admin-${randomBytes(24).toString('hex')}`;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN_KEY, MESSAGE_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => t?.close());

  it('needs no credential, and counts against MESSAGE_RATE_LIMIT_PER_MINUTE per client address', async () => {
    const from = '198.51.100.7';
    const first = await previewOf(t, 'Joanna', { from });
    expectRedirect(first);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expectRedirect(await previewOf(t, 'Joanna', { from }));

    const third = await previewOf(t, 'Joanna', { from });
    expectError(third, 429, 'rate limit reached: 2 messages per minute (MESSAGE_RATE_LIMIT_PER_MINUTE)');
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(third.headers.location).toBeUndefined();

    // Other routes are not message-limited, and another address has a count of its own.
    expect((await t.app.inject({ method: 'GET', url: '/api/voices', remoteAddress: from })).statusCode).toBe(200);
    expectRedirect(await previewOf(t, 'Joanna', { from: '198.51.100.8' }));
  });

  it("shares a principal's count with its messages", async () => {
    const key = (await t.product.app.apiKeys.create({ name: 'preview test' })).key;
    const headers = { authorization: `Bearer ${key}` };
    expectRedirect(await previewOf(t, 'Matthew', { headers }));
    expectRedirect(await previewOf(t, 'Matthew', { headers }));
    const session = await t.app.inject({ method: 'POST', url: '/api/chat', headers });
    expect(session.statusCode).toBe(201);
    const message = await t.app.inject({
      method: 'POST',
      url: `/api/chat/${session.json().session_id}/message`,
      headers,
      payload: { message: 'hello' },
    });
    expectError(message, 429, 'MESSAGE_RATE_LIMIT_PER_MINUTE');
  });
});
