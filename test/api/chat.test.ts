import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyWithin } from '../../src/llm/chat-model.ts';
import { createOfflineChatModel } from '../../src/llm/offline-chat-model.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ MAX_MESSAGE_CHARS: '50' });
});
afterAll(() => t?.close());

const MISSING = '00000000-0000-4000-8000-000000000000';
const newSession = async (body?: object) =>
  (await t.app.inject({ method: 'POST', url: '/api/chat', ...(body ? { payload: body } : {}) })).json();
const send = (id: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: payload as object });
const history = async (id: string) => (await t.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json().history;

describe('chat sessions', () => {
  it('creates a session with the contract fields and an empty history', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/chat' });
    expect(res.statusCode).toBe(201);
    const s = res.json();
    expect(Object.keys(s).sort()).toEqual(['created_at', 'has_more', 'history', 'persona_id', 'session_id', 'updated_at', 'voice_id']);
    expect(s).toMatchObject({ persona_id: null, voice_id: 'Joanna', history: [], has_more: false });
  });

  it("resolves voice_id to the persona's voice", async () => {
    const p = (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'M', voice_id: 'Matthew' } })).json();
    const s = await newSession({ persona_id: p.id });
    expect(s).toMatchObject({ persona_id: p.id, voice_id: 'Matthew' });
    const nullPersona = await newSession({ persona_id: null });
    expect(nullPersona.voice_id).toBe('Joanna');
  });

  it('rejects an unknown persona with a 422 naming it, and a non-UUID with a 400, storing nothing', async () => {
    const before = (await t.app.inject({ method: 'GET', url: '/api/chat' })).json().length;
    const res = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: MISSING } });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toBe(`persona ${MISSING} does not exist`);
    const bad = await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: 'abc' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/persona_id/);
    expect((await t.app.inject({ method: 'GET', url: '/api/chat' })).json().length).toBe(before);
  });

  it('lists sessions newest first, without history', async () => {
    const a = await newSession();
    const b = await newSession();
    const list = (await t.app.inject({ method: 'GET', url: '/api/chat' })).json();
    const ids = list.map((s: { session_id: string }) => s.session_id);
    expect(ids.indexOf(b.session_id)).toBeLessThan(ids.indexOf(a.session_id));
    expect(Object.keys(list[0]).sort()).toEqual(['created_at', 'persona_id', 'session_id', 'updated_at', 'voice_id']);
  });

  it('answers 404 for unknown sessions', async () => {
    for (const [method, url, payload] of [
      ['GET', `/api/chat/${MISSING}`],
      ['DELETE', `/api/chat/${MISSING}`],
      ['POST', `/api/chat/${MISSING}/message`, { message: 'hi' }],
    ] as const) {
      const res = await t.app.inject({ method, url, ...(payload ? { payload } : {}) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: `chat session ${MISSING} not found` });
    }
  });

  it('deletes a session with its messages', async () => {
    const s = await newSession();
    await send(s.session_id, { message: 'hello' });
    expect((await t.app.inject({ method: 'DELETE', url: `/api/chat/${s.session_id}` })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/api/chat/${s.session_id}` })).statusCode).toBe(404);
    expect((await send(s.session_id, { message: 'anyone?' })).statusCode).toBe(404);
  });
});

describe('posting a message', () => {
  it('appends the message and the reply and returns the whole session', async () => {
    const p = (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'Pirate', system_prompt: 'You are a pirate.' } })).json();
    const s = await newSession({ persona_id: p.id });
    const res = await send(s.session_id, { message: 'Where is the treasure?' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ session_id: s.session_id, persona_id: p.id, voice_id: 'Joanna' });
    expect(body.updated_at > s.updated_at).toBe(true);
    expect(body.history).toHaveLength(2);
    const [user, model] = body.history;
    expect(user).toEqual({ seq: 1, role: 'user', content: 'Where is the treasure?', audio_url: null });
    expect(model.role).toBe('model');
    expect(model.seq).toBe(2);
    expect(body.has_more).toBe(false);
    const expected = await replyWithin(
      createOfflineChatModel(),
      { systemPrompt: 'You are a pirate.', history: [], message: 'Where is the treasure?' },
      1_000,
    );
    expect(model.content).toBe(expected);
    const filename = createHash('sha256').update(model.content + 'Joanna').digest('hex') + '.mp3';
    expect(model.audio_url.split('/').pop()).toBe(filename);

    // The read path gives the same history, URL included.
    expect(await history(s.session_id)).toEqual(body.history);
  });

  it.each([
    [{ message: '' }, /body\/message must not be empty/],
    [{ message: 'a\u0000b' }, /body\/message must not contain the NUL character/],
    [{ message: ' \n\t ' }, /body\/message must not be empty or whitespace only/],
    [{ message: 42 }, /body\/message must be string/],
    [{ message: null }, /body\/message must be string/],
    [{ message: 'x'.repeat(51) }, /body\/message must NOT have more than 50 characters/],
    [{}, /body must have the field "message"/],
    [{ message: 'hi', extra: 1 }, /unknown field "extra"/],
  ])('rejects %j with a 400 naming the problem, and stores nothing', async (payload, message) => {
    const s = await newSession();
    const res = await send(s.session_id, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(message);
    expect(await history(s.session_id)).toEqual([]);
  });

  it('accepts a message of exactly MAX_MESSAGE_CHARS characters, counting code points', async () => {
    const s = await newSession();
    expect((await send(s.session_id, { message: 'x'.repeat(50) })).statusCode).toBe(200);
    expect((await send(s.session_id, { message: '🙂'.repeat(50) })).statusCode).toBe(200);
  });

  it('reads an empty body sent as application/json as no body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/chat', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(res.statusCode).toBe(201);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/chat/${res.json().session_id}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(del.statusCode).toBe(204);
  });

  it('answers a body over the limit with a 413 that states the limit', async () => {
    const s = await newSession();
    const res = await send(s.session_id, { message: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/larger than the limit of \d+ bytes/);
  });

  it('rejects invalid JSON and a missing body with a 400', async () => {
    const s = await newSession();
    for (const payload of ['{"message": "hi"', '']) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/chat/${s.session_id}/message`,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(400);
    }
    expect(await history(s.session_id)).toEqual([]);
  });

  it('lands 20 concurrent posts to one session: 40 messages, each reply right after its message', async () => {
    const s = await newSession();
    const messages = Array.from({ length: 20 }, (_, i) => `question number ${i}`);
    const results = await Promise.all(messages.map((message) => send(s.session_id, { message })));
    expect(results.map((r) => r.statusCode)).toEqual(messages.map(() => 200));

    const offline = createOfflineChatModel();
    const signal = new AbortController().signal;
    const turns = await history(s.session_id);
    expect(turns).toHaveLength(40);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i += 2) {
      expect(turns[i].role).toBe('user');
      expect(turns[i + 1].role).toBe('model');
      const reply = await replyWithin(offline, { systemPrompt: '', history: [], message: turns[i].content }, 1_000);
      expect(turns[i + 1].content).toBe(reply);
      seen.add(turns[i].content);
    }
    expect([...seen].sort()).toEqual([...messages].sort());
    // Stable: a second read returns the same order.
    expect(await history(s.session_id)).toEqual(turns);
  });
});

describe('restart', () => {
  it('keeps personas, sessions and messages across a restart on the same data', async () => {
    const first = await startTestApp({}, { pgliteOnDisk: true });
    const persona = (await first.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'Keeper', voice_id: 'Amy' } })).json();
    const s = (await first.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: persona.id } })).json();
    const posted = (await first.app.inject({ method: 'POST', url: `/api/chat/${s.session_id}/message`, payload: { message: 'remember me' } })).json();
    await first.stop();

    const second = await startTestApp({}, { reuse: { database: first.database, dataDir: first.dataDir } });
    try {
      expect((await second.app.inject({ method: 'GET', url: `/api/personas/${persona.id}` })).json()).toEqual(persona);
      const again = (await second.app.inject({ method: 'GET', url: `/api/chat/${s.session_id}` })).json();
      expect(again.history).toEqual(posted.history);
      // The audio file written before the restart is still served.
      const audio = await second.app.inject({ method: 'GET', url: again.history[1].audio_url });
      expect(audio.statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });
});
