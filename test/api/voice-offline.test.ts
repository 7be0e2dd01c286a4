// The voice pipeline on the embedded defaults: eSpeak NG and files under DATA_DIR, no network.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMp3 } from '../support/ffprobe.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

async function replyIn(voice_id: string | null, message: string) {
  const persona = voice_id
    ? (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'V', voice_id } })).json().id
    : null;
  const id = (await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: persona } })).json().session_id;
  const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  expect(res.statusCode).toBe(200);
  return res.json().history[1] as { content: string; audio_url: string };
}

async function download(url: string) {
  const res = await t.app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('audio/mpeg');
  return new Uint8Array(res.rawPayload);
}

describe('offline voice', () => {
  it("plays a reply as real speech, named sha256(content + voice_id).mp3", async () => {
    const reply = await replyIn(null, 'Say something nice');
    const filename = createHash('sha256').update(reply.content + 'Joanna').digest('hex') + '.mp3';
    expect(reply.audio_url).toBe(`/audio/espeak-v1-mp3/${filename}`);
    const probed = await probeMp3(await download(reply.audio_url));
    expect(probed.codec).toBe('mp3');
    // A sentence or three of speech, not a blip.
    expect(probed.durationSeconds).toBeGreaterThan(2);
  });

  it('speaks each persona with its own voice', async () => {
    const joanna = await replyIn('Joanna', 'The same words');
    const matthew = await replyIn('Matthew', 'The same words');
    expect(joanna.content).toBe(matthew.content);
    expect(joanna.audio_url).not.toBe(matthew.audio_url);
    const [a, b] = await Promise.all([download(joanna.audio_url), download(matthew.audio_url)]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('lists the voices it can speak, in the contract shape, with Polly ids', async () => {
    const voices = (await t.app.inject({ method: 'GET', url: '/api/voices' })).json();
    expect(voices.length).toBeGreaterThan(50);
    expect(voices).toContainEqual({
      id: 'Joanna',
      name: 'Joanna',
      gender: 'Female',
      language_code: 'en-US',
      language_name: expect.any(String),
      engines: ['espeak'],
    });
  });

  it('says why a well-formed audio URL has no file yet', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/audio/espeak-v1-mp3/${'0'.repeat(64)}.mp3` });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/not found: it is made when a reply is posted.*audio:backfill/);
  });

  it('answers with audio_url null when speech is slower than SPEECH_TIMEOUT_MS, then finishes into the cache', async () => {
    const slow = await startTestApp({ SPEECH_TIMEOUT_MS: '1' });
    try {
      const id = (await slow.app.inject({ method: 'POST', url: '/api/chat' })).json().session_id;
      const res = await slow.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'take your time' } });
      expect(res.statusCode).toBe(200);
      const reply = res.json().history[1];
      expect(reply.audio_url).toBeNull();
      const key = slow.product.speech.keyFor(reply.content, 'Joanna');
      const deadline = Date.now() + 20_000;
      while (!(await slow.product.store.has(key)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await slow.product.store.has(key)).toBe(true);
      // The read path names the file that is now there.
      const history = (await slow.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json().history;
      expect((await slow.app.inject({ method: 'GET', url: history[1].audio_url })).statusCode).toBe(200);
    } finally {
      await slow.close();
    }
  });

  it('serves audio with Range requests and immutable caching', async () => {
    const reply = await replyIn(null, 'Ranges please');
    const res = await t.app.inject({ method: 'GET', url: reply.audio_url, headers: { range: 'bytes=0-99' } });
    expect(res.statusCode).toBe(206);
    expect(res.rawPayload.length).toBe(100);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });
});
