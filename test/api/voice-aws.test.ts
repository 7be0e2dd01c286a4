// The voice pipeline in AWS mode, configured only through the documented variables: S3 (s3rver), Polly
// (a server speaking Polly's protocol) and Gemini (a server speaking Gemini's), all on loopback and
// all driven by the real SDK clients.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatMessages } from '../../src/db/schema.ts';
import { probeMp3 } from '../support/ffprobe.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { awsTestEnv } from '../support/aws-env.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
let t: TestApp;

// LLM_PROVIDER unset: Gemini is chosen because GEMINI_API_KEY is set.
const awsEnv = () => ({ ...awsTestEnv({ s3, polly, gemini }), LLM_PROVIDER: '' });

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
  t = await startTestApp(awsEnv());
});
afterAll(async () => {
  await t?.close();
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
});
beforeEach(() => {
  polly.reset();
  gemini.reset();
});

const sha = (text: string, voice: string) => createHash('sha256').update(text + voice).digest('hex');
async function persona(voice_id?: string) {
  const res = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'P', ...(voice_id ? { voice_id } : {}) } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}
async function session(personaId?: string) {
  const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: personaId ?? null } });
  return res.json().session_id as string;
}
async function send(id: string, message: string) {
  const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  expect(res.statusCode).toBe(200);
  return res.json().history.at(-1) as { seq: number; role: string; content: string; audio_url: string | null };
}

describe('the write path with Polly and S3', () => {
  it("sends the persona's voice, the engine, plain text and mp3 to Polly, and stores the MP3 in S3 under the key rule", async () => {
    const id = await session(await persona('Matthew'));
    gemini.nextReply('Ahoy there, friend.');
    const reply = await send(id, 'hello');

    expect(polly.synthRequests).toHaveLength(1);
    expect(polly.synthRequests[0]).toMatchObject({
      voiceId: 'Matthew',
      engine: 'neural',
      textType: 'text',
      outputFormat: 'mp3',
      text: 'Ahoy there, friend.',
    });
    const key = `polly-neural-mp3/${sha('Ahoy there, friend.', 'Matthew')}.mp3`;
    expect(reply.audio_url).toBe(`${s3.endpoint}/${s3.bucket}/${key}`);

    const audio = await fetch(reply.audio_url!);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/mpeg');
    expect(audio.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const probed = await probeMp3(new Uint8Array(await audio.arrayBuffer()));
    expect(probed.codec).toBe('mp3');
  });

  it('falls back to DEFAULT_POLLY_VOICE_ID for a persona without a voice', async () => {
    const id = await session(await persona());
    gemini.nextReply('Default voice here.');
    await send(id, 'hi');
    expect(polly.synthRequests.map((r) => r.voiceId)).toEqual(['Joanna']);
  });

  it('synthesizes identical replies once, across sessions and under concurrency', async () => {
    const voice = await persona('Amy');
    gemini.setReply(() => 'The very same reply, every time.');
    const first = await send(await session(voice), 'one');
    const sessions = await Promise.all(Array.from({ length: 10 }, () => session(voice)));
    const replies = await Promise.all(sessions.map((id, i) => send(id, `concurrent ${i}`)));
    expect(polly.synthRequests).toHaveLength(1);
    expect(new Set([first, ...replies].map((r) => r.audio_url))).toEqual(new Set([first.audio_url]));

    // Concurrent misses for a new key share one synthesis too.
    polly.reset();
    gemini.setReply(() => 'A brand new reply that nobody has heard.');
    polly.setLatency(() => 200);
    const more = await Promise.all(Array.from({ length: 8 }, () => session(voice)));
    const urls = await Promise.all(more.map((id) => send(id, 'again')));
    expect(polly.synthRequests).toHaveLength(1);
    expect(urls.every((r) => r.audio_url === urls[0]!.audio_url && r.audio_url !== null)).toBe(true);
  });

  it('splits a long reply into pieces Polly accepts and joins them into one MP3 of the full length', async () => {
    const sentence = 'This sentence is part of a very long answer that keeps going for quite a while. ';
    const long = sentence.repeat(120); // about 9,700 characters
    gemini.nextReply(long);
    const reply = await send(await session(), 'tell me everything');

    const pieces = polly.synthRequests;
    expect(pieces.length).toBeGreaterThanOrEqual(4);
    expect(pieces.every((p) => p.status === 200 && p.text.length <= 3000)).toBe(true);
    expect(pieces.map((p) => p.text).join(' ').replace(/\s+/g, ' ').trim()).toBe(long.trim());

    const mp3 = new Uint8Array(await (await fetch(reply.audio_url!)).arrayBuffer());
    const probed = await probeMp3(mp3);
    // The fake Polly speaks 65 ms per character: the joined file must play all of it.
    const expectedSeconds = (long.trim().length * 65) / 1000;
    expect(probed.durationSeconds).toBeGreaterThan(expectedSeconds * 0.9);
  });

  it('never sends markdown, code, links or reasoning to Polly, but hashes the raw reply', async () => {
    const raw = [
      '<think>The user wants a recipe.</think>',
      '# Pancakes',
      '',
      'You need **flour**, _milk_ and [fresh eggs](https://example.com/eggs).',
      '',
      '- Mix the batter',
      '- Fry it',
      '',
      '```js',
      'console.log("flip");',
      '```',
      '',
      '| step | time |',
      '|---|---|',
      '| rest | 10 min |',
      '',
      'Use the `max_heat` setting.',
    ].join('\n');
    gemini.nextReply(raw);
    const reply = await send(await session(), 'pancakes?');
    const spoken = polly.synthRequests.map((r) => r.text).join(' ');
    for (const absent of ['**', '#', '```', 'console.log', 'https://', '<think>', 'recipe', '|', '---']) {
      expect(spoken).not.toContain(absent);
    }
    for (const present of ['Pancakes', 'flour', 'milk', 'fresh eggs', 'Mix the batter', 'max_heat']) {
      expect(spoken).toContain(present);
    }
    expect(reply.content).toBe(raw);
    expect(reply.audio_url!.endsWith(`${sha(raw, 'Joanna')}.mp3`)).toBe(true);
  });

  it('gives a reply with nothing speakable valid audio, so its URL never 404s', async () => {
    gemini.nextReply('```python\nprint("only code")\n```');
    const reply = await send(await session(), 'code please');
    expect(polly.synthRequests).toHaveLength(1);
    expect(polly.synthRequests[0]!.text).toMatch(/nothing to read aloud/i);
    expect((await fetch(reply.audio_url!)).status).toBe(200);
  });

  it('retries a ThrottlingException and still returns audio', async () => {
    polly.failNext(1, 'throttle');
    gemini.nextReply('Throttled once, then fine.');
    const reply = await send(await session(), 'x');
    expect(reply.audio_url).not.toBeNull();
    expect(polly.synthRequests.map((r) => r.status)).toEqual([400, 200]);
  });

  it('saves the reply with audio_url null when Polly is down, logs the key for the retry, and stays up', async () => {
    polly.setOutage(true);
    gemini.nextReply('Polly is out, but this text stays.');
    const id = await session();
    const reply = await send(id, 'are you there?');
    expect(reply).toEqual({ seq: 2, role: 'model', content: 'Polly is out, but this text stays.', audio_url: null });

    const key = `polly-neural-mp3/${sha('Polly is out, but this text stays.', 'Joanna')}.mp3`;
    expect(t.logs.some((l) => l.key === key && /reply audio failed; it is retried/.test(String(l.msg)))).toBe(true);

    // The text is in the history; the read path still names where the audio belongs.
    const history = (await t.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json().history;
    expect(history[1].content).toBe('Polly is out, but this text stays.');
    expect(history[1].audio_url.endsWith(key)).toBe(true);

    polly.setOutage(false);
    gemini.nextReply('Back again.');
    expect((await send(id, 'and now?')).audio_url).not.toBeNull();
  });
});

describe('voices with Polly', () => {
  it('lists the voices of POLLY_ENGINE, cached after the first call', async () => {
    const first = (await t.app.inject({ method: 'GET', url: '/api/voices' })).json();
    const second = (await t.app.inject({ method: 'GET', url: '/api/voices' })).json();
    expect(second).toEqual(first);
    const ids = first.map((v: { id: string }) => v.id);
    expect(ids).toContain('Matthew');
    expect(ids).not.toContain('Nicole'); // standard only
    expect(first.find((v: { id: string }) => v.id === 'Amy')).toEqual({
      id: 'Amy',
      name: 'Amy',
      gender: 'Female',
      language_code: 'en-GB',
      language_name: 'British English',
      engines: expect.arrayContaining(['neural']),
    });
    expect(polly.describeCount).toBeLessThanOrEqual(Math.ceil(26 / 5)); // one paginated listing at most
  });

  it('rejects an unknown voice and a voice not on the engine with a 422 naming it', async () => {
    const unknown = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'X', voice_id: 'Zorg' } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().message).toContain('"Zorg"');
    const standardOnly = await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'X', voice_id: 'Nicole' } });
    expect(standardOnly.statusCode).toBe(422);
    expect(standardOnly.json().message).toMatch(/"Nicole".*neural/);
  });
});

describe('the read path', () => {
  it('reads a history of 1,000 messages with zero requests to S3 or Polly', async () => {
    const voice = await persona('Brian');
    const id = await session(voice);
    // Seed 500 exchanges straight into the database: the read path must not care whether audio exists.
    await t.product.database.db.insert(chatMessages).values(
      Array.from({ length: 1000 }, (_, i) => ({
        sessionId: id,
        seq: i + 1,
        role: i % 2 === 0 ? ('user' as const) : ('model' as const),
        content: `message ${i}`,
      })),
    );
    s3.resetRequests();
    const before = polly.synthRequests.length;

    const res = await t.app.inject({ method: 'GET', url: `/api/chat/${id}` });
    expect(res.statusCode).toBe(200);
    const history = res.json().history as Array<{ role: string; content: string; audio_url: string | null }>;
    expect(history).toHaveLength(1000);
    for (const m of history) {
      if (m.role === 'user') expect(m.audio_url).toBeNull();
      else expect(m.audio_url).toBe(`${s3.endpoint}/${s3.bucket}/polly-neural-mp3/${sha(m.content, 'Brian')}.mp3`);
    }
    expect(s3.requests()).toBe(0);
    expect(polly.synthRequests.length).toBe(before);
    expect(res.headers['server-timing']).toMatch(/audio-urls;dur=/);
  });

  it("builds URLs with the session's current voice after the persona changes voice", async () => {
    const voice = await persona('Joanna');
    const id = await session(voice);
    gemini.nextReply('Same words, new voice.');
    await send(id, 'x');
    await t.app.inject({ method: 'PATCH', url: `/api/personas/${voice}`, payload: { voice_id: 'Matthew' } });
    const history = (await t.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json();
    expect(history.voice_id).toBe('Matthew');
    expect(history.history[1].audio_url.endsWith(`${sha('Same words, new voice.', 'Matthew')}.mp3`)).toBe(true);
  });
});

describe('presigned URLs and storage failures', () => {
  it('serves a private bucket with locally signed URLs that stay stable within a window', async () => {
    const presigned = await startTestApp({ ...awsEnv(), AUDIO_URL_MODE: 'presigned', AUDIO_URL_TTL: '3600' });
    try {
      gemini.setReply(() => 'Signed and sealed.');
      const id = (await presigned.app.inject({ method: 'POST', url: '/api/chat' })).json().session_id;
      const posted = (await presigned.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'x' } })).json();
      const url = new URL(posted.history[1].audio_url);
      expect(url.pathname.endsWith(`${sha('Signed and sealed.', 'Joanna')}.mp3`)).toBe(true);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      s3.resetRequests();
      const again = (await presigned.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json();
      expect(again.history[1].audio_url).toBe(posted.history[1].audio_url);
      expect(s3.requests()).toBe(0);
      expect((await fetch(url)).status).toBe(200);
    } finally {
      await presigned.close();
    }
  });

  it('saves the reply with audio_url null when S3 is unreachable', async () => {
    const deadS3 = await startTestApp({ ...awsEnv(), S3_ENDPOINT: 'http://127.0.0.1:9' });
    try {
      gemini.setReply(() => 'Nowhere to put this audio.');
      const id = (await deadS3.app.inject({ method: 'POST', url: '/api/chat' })).json().session_id;
      const res = await deadS3.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'x' } });
      expect(res.statusCode).toBe(200);
      expect(res.json().history[1]).toEqual({ seq: 2, role: 'model', content: 'Nowhere to put this audio.', audio_url: null });
    } finally {
      await deadS3.close();
    }
  });
});
