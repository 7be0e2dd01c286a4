// Streaming a reply (POST /api/chat/{id}/message with Accept: text/event-stream), through HTTP with a
// real SSE parser, against the loopback Gemini, Polly and S3 servers: what the events say, that the
// audio is real and arrives before the LLM has finished, and that it costs what the plain POST costs.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { joinMp3 } from '../../src/speech/mp3.ts';
import { segmentSpeech } from '../../src/speech/text/segmenter.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { eventsNamed, postStream, type StreamResult } from '../support/event-stream-client.ts';
import { probeMp3 } from '../support/ffprobe.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { mp3DurationSeconds } from '../support/mp3-duration.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
let t: TestApp;
let base: string;

const PING_MS = 100;

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
  t = await startTestApp({ ...awsTestEnv({ s3, polly, gemini }), STREAM_PING_MS: String(PING_MS) });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
});
beforeEach(() => {
  polly.reset();
  gemini.reset();
});

interface AudioEvent {
  index: number;
  text: string;
  audio: string | null;
  error?: string;
}
interface Message {
  seq: number;
  role: string;
  content: string;
  audio_url: string | null;
}
interface Session {
  session_id: string;
  history: Message[];
}

async function session(voice?: string): Promise<string> {
  let personaId: string | null = null;
  if (voice) {
    const res = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: `P ${voice}`, voice_id: voice } });
    personaId = res.json().id as string;
  }
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: personaId } });
  return res.json().session_id as string;
}

const stream = (id: string, message: string, opts?: Parameters<typeof postStream>[2]) =>
  postStream(`${base}/api/chat/${id}/message`, { message }, opts);

async function history(id: string): Promise<Message[]> {
  const res = await t.app.inject({ method: 'GET', url: `/api/chat/${id}` });
  return (res.json() as Session).history;
}

const textOf = (result: StreamResult) => eventsNamed<{ delta: string }>(result, 'text').map((e) => e.delta).join('');
const audioOf = (result: StreamResult) => eventsNamed<AudioEvent>(result, 'audio');
const mp3Of = (event: AudioEvent) => new Uint8Array(Buffer.from(event.audio!, 'base64'));
const segmentsOf = (reply: string) => segmentSpeech(reply, { maxChars: 3000, maxSpeechChars: 20_000 });

const REPLY =
  'Hello there, my friend. This reply streams as it is written, and it is spoken as it streams. ' +
  'Each sentence arrives in small pieces from the model. The server cuts the speech at sentence ends, ' +
  'so that the first words are heard long before the last ones are written. That is the whole point of it. ' +
  'And a final sentence closes the reply.';

describe('a streamed reply', () => {
  it('streams text deltas that join to the stored reply, audio events in order that decode, and done with the session', async () => {
    const id = await session('Matthew');
    gemini.nextReply(REPLY);
    const result = await stream(id, 'talk to me');

    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const names = result.events.map((e) => e.event);
    expect(names.at(-1)).toBe('done');
    expect(names.filter((n) => n === 'text').length).toBeGreaterThan(3);
    expect(names).not.toContain('error');

    const stored = await history(id);
    expect(stored.map((m) => m.role)).toEqual(['user', 'model']);
    expect(textOf(result)).toBe(REPLY);
    expect(stored[1]!.content).toBe(REPLY);
    const done = eventsNamed<Session>(result, 'done')[0]!;
    expect(done.history).toEqual(stored);

    const audio = audioOf(result);
    expect(audio.map((a) => a.index)).toEqual(audio.map((_, i) => i));
    expect(audio.length).toBeGreaterThan(1);
    expect(audio.map((a) => a.text)).toEqual(segmentsOf(REPLY));
    expect(audio[0]!.text).toBe('Hello there, my friend.');
    for (const event of audio) expect((await probeMp3(mp3Of(event))).codec).toBe('mp3');
    // The segments are what Polly was asked to say, once each, in the persona's voice.
    expect(polly.synthRequests.map((r) => [r.text, r.voiceId])).toEqual(audio.map((a) => [a.text, 'Matthew']));

    // The stored MP3 is the segments joined: it plays as long as they do together, within a frame each.
    const url = done.history.at(-1)!.audio_url!;
    expect(url).toMatch(/\.mp3$/);
    const storedMp3 = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const frame = 1152 / 22050;
    const parts = audio.map((a) => mp3DurationSeconds(mp3Of(a)));
    expect(Math.abs(mp3DurationSeconds(storedMp3) - parts.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(frame * audio.length);
    const probed = await probeMp3(storedMp3);
    expect(Math.abs(probed.durationSeconds - parts.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(frame * audio.length);
    expect(Buffer.from(storedMp3).equals(Buffer.from(joinMp3(audio.map(mp3Of))))).toBe(true);
  });

  it('sends the first audio event before the LLM stream has ended', async () => {
    const id = await session();
    gemini.nextReply(REPLY);
    // Two chunks, enough for the first sentence and the start of the next; the rest waits.
    void gemini.holdAfter(3);
    let released = false;
    const result = await stream(id, 'go', {
      onEvent: (event) => {
        if (event.event === 'audio' && !released) {
          released = true;
          gemini.release();
        }
      },
    });
    expect(released).toBe(true);
    const first = result.events.findIndex((e) => e.event === 'audio');
    // Text kept coming after the first audio: the LLM had not finished when it was sent.
    expect(result.events.slice(first).some((e) => e.event === 'text')).toBe(true);
    expect(textOf(result)).toBe(REPLY);
  });

  it('never speaks a code fence or a URL spread across deltas', async () => {
    const id = await session();
    gemini.nextDeltas([
      'Here is the code you asked for:\n\n``',
      '`python\nimport os\n',
      'print(os.getcwd())\n',
      'secret_token = "abc"\n',
      'for i in range(3):\n    print(i)\n',
      '```\n\nRead [the docs](https://exa',
      'mple.com/very/long/path) for more. That is all.',
    ]);
    const result = await stream(id, 'code please');
    const spoken = audioOf(result).map((a) => a.text).join(' ');
    expect(spoken).toBe('Here is the code you asked for: Read the docs for more. That is all.');
    for (const word of ['python', 'import', 'print', 'secret', 'range', 'exa', 'example', 'https']) {
      expect(polly.synthRequests.some((r) => r.text.includes(word))).toBe(false);
    }
  });

  it('bills the same characters as the same reply posted without streaming', async () => {
    gemini.setReply(() => REPLY);
    const streamed = await session('Joanna');
    const plain = await session('Ivy');
    await stream(streamed, 'same');
    const res = await t.app.inject({ method: 'POST', url: `/api/chat/${plain}/message`, payload: { message: 'same' } });
    expect(res.statusCode).toBe(200);
    const billed = (voice: string) =>
      polly.synthRequests.filter((r) => r.voiceId === voice && r.status === 200).reduce((n, r) => n + [...r.text].length, 0);
    expect(billed('Joanna')).toBeGreaterThan(0);
    expect(billed('Joanna')).toBe(billed('Ivy'));
    // And the same pieces of speech, so the stored audio is alike too.
    const texts = (voice: string) => polly.synthRequests.filter((r) => r.voiceId === voice).map((r) => r.text);
    expect(texts('Joanna')).toEqual(texts('Ivy'));
  });
});

describe('failures in a streamed reply', () => {
  it('answers a refusal before the stream starts as JSON with its status', async () => {
    const missing = await postStream(`${base}/api/chat/00000000-0000-4000-8000-000000000000/message`, { message: 'hi' });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ statusCode: 404, error: 'Not Found' });

    const id = await session();
    const empty = await postStream(`${base}/api/chat/${id}/message`, { message: '' });
    expect(empty.status).toBe(400);
    expect(empty.events).toEqual([]);

    const key = { 'idempotency-key': 'stream-key-1' };
    gemini.nextReply('Once only.');
    const first = await stream(id, 'once', { headers: key });
    expect(eventsNamed(first, 'done')).toHaveLength(1);
    const other = await postStream(`${base}/api/chat/${id}/message`, { message: 'another' }, { headers: key });
    expect(other.status).toBe(422);
    // The same request again replays: the stored reply, then the session, and nothing new stored.
    const again = await stream(id, 'once', { headers: key });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(textOf(again)).toBe('Once only.');
    expect(eventsNamed(again, 'done')[0]).toEqual(eventsNamed(first, 'done')[0]);
    expect(await history(id)).toHaveLength(2);
  });

  it('sends an error event when the LLM fails mid-stream, and stores nothing', async () => {
    const id = await session();
    gemini.nextStreamError(2);
    s3.resetRequests();
    const result = await stream(id, 'fail please');
    expect(result.status).toBe(200);
    const names = result.events.map((e) => e.event);
    expect(names.at(-1)).toBe('error');
    expect(names).not.toContain('done');
    expect(names[0]).toBe('text');
    const error = eventsNamed<{ statusCode: number; error: string; message: string }>(result, 'error')[0]!;
    expect(error.statusCode).toBe(502);
    expect(error.message).toMatch(/gemini/);
    expect(await history(id)).toEqual([]);
    // Whatever was synthesized for the failed reply is not stored.
    expect(s3.requestLog().filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('sends audio null with the error for a failed segment; the text is stored and audio_url is null', async () => {
    // A voice of its own: the reply's audio job is retried in the background after this test.
    const id = await session('Kendra');
    gemini.nextReply(REPLY);
    const stop = polly.failWhere((r) => r.text.includes('Each sentence'), 'failure');
    try {
      const result = await stream(id, 'fail a segment');
      const audio = audioOf(result);
      const failed = audio.find((a) => a.audio === null)!;
      expect(failed.error).toMatch(/\w/);
      expect(audio[0]!.audio).not.toBeNull();
      expect(audio.map((a) => a.index)).toEqual(audio.map((_, i) => i));
      const done = eventsNamed<Session>(result, 'done')[0]!;
      expect(done.history.at(-1)).toMatchObject({ content: REPLY, audio_url: null });
    } finally {
      stop();
    }
  });

  it('keeps going when the client disconnects: the reply and its audio are stored', async () => {
    const id = await session();
    gemini.nextReply(REPLY);
    void gemini.holdAfter(1);
    const result = await stream(id, 'bye', { onEvent: (e) => (e.event === 'text' ? 'disconnect' : undefined) });
    expect(result.disconnected).toBe(true);
    gemini.release();
    await vi.waitFor(
      async () => {
        const stored = await history(id);
        expect(stored.at(-1)?.content).toBe(REPLY);
        const audio = await fetch(stored.at(-1)!.audio_url!);
        expect(audio.status).toBe(200);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('sends a ping comment while the stream is quiet', async () => {
    const id = await session();
    gemini.nextReply(REPLY);
    void gemini.holdAfter(1);
    setTimeout(() => gemini.release(), PING_MS * 3.5);
    const result = await stream(id, 'wait');
    expect(result.comments.filter((c) => c === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(textOf(result)).toBe(REPLY);
  });
});

describe('shutdown', () => {
  it('lets a reply whose client left finish and store before the app closes', async () => {
    const env = { ...awsTestEnv({ s3, polly, gemini }), STREAM_PING_MS: String(PING_MS) };
    const first = await startTestApp(env, { pgliteOnDisk: true });
    const url = await first.app.listen({ port: 0, host: '127.0.0.1' });
    const id = (await first.app.inject({ method: 'POST', url: '/api/chat', payload: {} })).json().session_id as string;
    gemini.nextReply(REPLY);
    void gemini.holdAfter(1);
    const left = await postStream(`${url}/api/chat/${id}/message`, { message: 'closing time' }, { onEvent: () => 'disconnect' });
    expect(left.disconnected).toBe(true);
    // The close starts while the LLM is still holding the rest of the reply back.
    const closing = first.stop();
    setTimeout(() => gemini.release(), 200);
    await closing;

    const second = await startTestApp(env, { reuse: { database: first.database, dataDir: first.dataDir } });
    try {
      const stored = (await second.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json() as Session;
      expect(stored.history.map((m) => m.content)).toEqual(['closing time', REPLY]);
      expect((await fetch(stored.history[1]!.audio_url!)).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});
