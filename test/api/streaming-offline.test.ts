// The streamed reply on the embedded defaults (offline responder, eSpeak, local files): what the
// README's curl flow shows on a machine with no keys.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventsNamed, postStream } from '../support/event-stream-client.ts';
import { probeMp3 } from '../support/ffprobe.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t?.close());

it('streams the offline reply word by word and speaks it with eSpeak, segment by segment', async () => {
  const id = (await t.app.inject({ method: 'POST', url: '/api/chat', payload: {} })).json().session_id as string;
  const result = await postStream(`${base}/api/chat/${id}/message`, { message: 'Tell me about streaming speech, please.' });
  expect(result.status).toBe(200);
  const deltas = eventsNamed<{ delta: string }>(result, 'text').map((e) => e.delta);
  expect(deltas.length).toBeGreaterThan(5);
  const done = eventsNamed<{ history: Array<{ content: string; audio_url: string | null }> }>(result, 'done')[0]!;
  const reply = done.history.at(-1)!;
  expect(deltas.join('')).toBe(reply.content);

  const audio = eventsNamed<{ index: number; text: string; audio: string | null }>(result, 'audio');
  expect(audio.length).toBeGreaterThan(0);
  for (const event of audio) {
    const probed = await probeMp3(new Uint8Array(Buffer.from(event.audio!, 'base64')));
    expect(probed.durationSeconds).toBeGreaterThan(0.2);
  }
  const stored = await t.app.inject({ method: 'GET', url: reply.audio_url! });
  expect(stored.statusCode).toBe(200);
  expect(stored.headers['content-type']).toBe('audio/mpeg');
});
