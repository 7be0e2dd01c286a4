// GET /api/chat/{session_id} in pages: ?limit and ?before pick the last messages below a seq, every
// message carries its seq, and has_more says whether older ones exist. Through HTTP with the real app,
// on PGlite or on PostgreSQL (TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OWNER } from '../../src/access/principal.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

interface Message {
  seq: number;
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}
interface Session {
  session_id: string;
  voice_id: string;
  history: Message[];
  has_more: boolean;
}

const EXCHANGES = 10; // 20 messages
let t: TestApp;
let id: string;
let full: Session;

const get = (url: string) => t.app.inject({ method: 'GET', url });
const page = async (query: string, session = id): Promise<Session> => {
  const res = await get(`/api/chat/${session}?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const seqs = (s: Session) => s.history.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const newSession = async (): Promise<Session> => (await t.app.inject({ method: 'POST', url: '/api/chat' })).json();

beforeAll(async () => {
  t = await startTestApp();
  id = (await newSession()).session_id;
  // Straight into the repository: a long history without an LLM call per exchange.
  for (let i = 1; i <= EXCHANGES; i++) {
    await t.product.sessions.appendExchange(LOCAL_OWNER, id, `question ${i}`, `answer ${i}`);
  }
  full = (await get(`/api/chat/${id}`)).json();
});
afterAll(() => t?.close());

describe('the whole history, without a query', () => {
  it('is every message in order, numbered 1..n, with audio URLs on model messages and has_more false', async () => {
    expect(full.has_more).toBe(false);
    expect(seqs(full)).toEqual(range(1, 2 * EXCHANGES));
    expect(full.history.map((m) => m.content)).toEqual(range(1, EXCHANGES).flatMap((i) => [`question ${i}`, `answer ${i}`]));
    for (const m of full.history) {
      expect(Object.keys(m).sort()).toEqual(['audio_url', 'content', 'role', 'seq']);
      if (m.role === 'user') expect(m.audio_url).toBeNull();
      else expect(m.audio_url).toBe(await t.product.speech.urlFor(m.content, full.voice_id));
    }
  });

  it('is empty with has_more false for a new session, as POST /api/chat answers', async () => {
    const created = await newSession();
    expect(created).toMatchObject({ history: [], has_more: false });
    expect(await page('', created.session_id)).toMatchObject({ history: [], has_more: false });
    expect(await page('limit=10', created.session_id)).toMatchObject({ history: [], has_more: false });
  });

  it('gives the POST message answer seqs too', async () => {
    const s = await newSession();
    const res = await t.app.inject({ method: 'POST', url: `/api/chat/${s.session_id}/message`, payload: { message: 'hello' } });
    expect(res.statusCode).toBe(200);
    expect(seqs(res.json())).toEqual([1, 2]);
    expect(res.json().has_more).toBe(false);
    expect((await page('', s.session_id)).history).toEqual(res.json().history);
  });
});

describe('a page', () => {
  it.each([
    // [query, first seq, last seq, has_more]
    ['limit=5', 16, 20, true],
    ['limit=20', 1, 20, false],
    ['limit=1000', 1, 20, false],
    ['limit=5&before=11', 6, 10, true],
    ['before=11&limit=5', 6, 10, true],
    ['limit=5&before=6', 1, 5, false],
    ['limit=1&before=2', 1, 1, false],
    ['limit=1&before=3', 2, 2, true],
    ['before=8', 1, 7, false],
    ['before=5&limit=100', 1, 4, false],
    ['before=21', 1, 20, false],
    ['before=1000&limit=3', 18, 20, true],
    // Beyond any seq PostgreSQL's integer can hold: still simply "up to the newest".
    ['before=99999999999&limit=2', 19, 20, true],
  ] as const)('?%s is seqs %i..%i, has_more %s, equal to the same messages of the whole history', async (query, from, to, hasMore) => {
    const p = await page(query);
    expect(seqs(p)).toEqual(range(from, to));
    expect(p.has_more).toBe(hasMore);
    // Same texts, same audio URLs: the page is a slice of the whole history.
    expect(p.history).toEqual(full.history.slice(from - 1, to));
    expect(p).toMatchObject({ session_id: id, voice_id: full.voice_id });
  });

  it('is empty with has_more false before seq 1', async () => {
    expect(await page('before=1')).toMatchObject({ history: [], has_more: false });
    expect(await page('before=1&limit=10')).toMatchObject({ history: [], has_more: false });
  });

  it('has the audio URL of each model message, the one the whole history gives', async () => {
    const p = await page('limit=4&before=9');
    const models = p.history.filter((m) => m.role === 'model');
    expect(models).toHaveLength(2);
    for (const m of models) {
      expect(m.audio_url).toMatch(/^\/audio\/.+\.mp3$/);
      expect(m.audio_url).toBe(full.history[m.seq - 1]!.audio_url);
    }
  });

  it('walks back to the start by passing the first seq held as before', async () => {
    const seen: Message[] = [];
    let p = await page('limit=6');
    for (;;) {
      seen.unshift(...p.history);
      if (!p.has_more) break;
      p = await page(`limit=6&before=${p.history[0]!.seq}`);
    }
    expect(seen).toEqual(full.history);
  });

  it('answers 404 for a deleted session', async () => {
    const s = await newSession();
    await t.product.sessions.appendExchange(LOCAL_OWNER, s.session_id, 'q', 'a');
    expect((await t.app.inject({ method: 'DELETE', url: `/api/chat/${s.session_id}` })).statusCode).toBe(204);
    for (const query of ['', '?limit=1', '?before=2', '?limit=1&before=2']) {
      const res = await get(`/api/chat/${s.session_id}${query}`);
      expect(res.statusCode).toBe(404);
      expect(res.json().message).toBe(`chat session ${s.session_id} not found`);
    }
  });
});

describe('a bad query', () => {
  it.each([
    ['limit=0', 'querystring/limit must be >= 1'],
    ['limit=1001', 'querystring/limit must be <= 1000'],
    ['limit=abc', 'querystring/limit must be integer'],
    ['limit=1.5', 'querystring/limit must be integer'],
    ['limit=', 'querystring/limit must be integer'],
    ['limit=-3', 'querystring/limit must be >= 1'],
    ['limit=1&limit=2', 'querystring/limit must be integer'],
    ['before=0', 'querystring/before must be >= 1'],
    ['before=-1', 'querystring/before must be >= 1'],
    ['before=x', 'querystring/before must be integer'],
    ['before=', 'querystring/before must be integer'],
    ['before=2.5&limit=5', 'querystring/before must be integer'],
    ['page=2', 'querystring has an unknown parameter "page"'],
    ['limit=5&offset=10', 'querystring has an unknown parameter "offset"'],
  ])('?%s answers 400: %s', async (query, message) => {
    const res = await get(`/api/chat/${id}?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message });
  });

  it('is refused before the session is looked up', async () => {
    const res = await get('/api/chat/00000000-0000-4000-8000-000000000000?limit=0');
    expect(res.statusCode).toBe(400);
  });

  it('leaves bodies uncoerced: a number is still not a message', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 42 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('body/message must be string');
  });
});

describe('the OpenAPI document', () => {
  it('describes limit and before as bounded integers, and seq and has_more', async () => {
    const doc = (await get('/docs/json')).json();
    const op = doc.paths['/api/chat/{session_id}'].get;
    const param = (name: string) => op.parameters.find((p: { in: string; name: string }) => p.in === 'query' && p.name === name);
    expect(param('limit')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } });
    expect(param('before')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1 } });
    expect(param('limit').description).toMatch(/before/);
    const { ChatMessage, ChatSessionResponse } = doc.components.schemas;
    expect(ChatMessage.properties.seq).toMatchObject({ type: 'integer', minimum: 1 });
    expect(ChatMessage.required).toContain('seq');
    expect(ChatSessionResponse.properties.has_more).toMatchObject({ type: 'boolean' });
    expect(ChatSessionResponse.required).toContain('has_more');
  });
});
