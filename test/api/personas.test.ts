import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const post = (body: unknown) => t.app.inject({ method: 'POST', url: '/api/personas', payload: body as object });
const patch = (id: string, body: unknown) => t.app.inject({ method: 'PATCH', url: `/api/personas/${id}`, payload: body as object });
const MISSING = '00000000-0000-4000-8000-000000000000';

async function countPersonas() {
  return (await t.app.inject({ method: 'GET', url: '/api/personas' })).json().length as number;
}

describe('personas', () => {
  it('creates, reads, lists, updates and deletes a persona with the contract fields', async () => {
    const created = await post({ name: 'Ada', system_prompt: 'You are Ada.', voice_id: 'Amy' });
    expect(created.statusCode).toBe(201);
    const persona = created.json();
    expect(Object.keys(persona).sort()).toEqual(['created_at', 'id', 'name', 'shared', 'system_prompt', 'updated_at', 'voice_id']);
    expect(persona).toMatchObject({ name: 'Ada', system_prompt: 'You are Ada.', voice_id: 'Amy', shared: true });
    expect(persona.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(persona.created_at).toISOString()).toBe(persona.created_at);

    const got = await t.app.inject({ method: 'GET', url: `/api/personas/${persona.id}` });
    expect(got.json()).toEqual(persona);

    const listed = await t.app.inject({ method: 'GET', url: '/api/personas' });
    expect(listed.json()).toContainEqual(persona);

    const renamed = await patch(persona.id, { name: 'Ada L.' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ name: 'Ada L.', system_prompt: 'You are Ada.', voice_id: 'Amy' });
    expect(renamed.json().updated_at >= persona.updated_at).toBe(true);

    const cleared = await patch(persona.id, { voice_id: null });
    expect(cleared.json().voice_id).toBeNull();

    expect((await t.app.inject({ method: 'DELETE', url: `/api/personas/${persona.id}` })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/api/personas/${persona.id}` })).statusCode).toBe(404);
  });

  it('defaults system_prompt to "" and voice_id to null', async () => {
    const res = await post({ name: 'Plain' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ system_prompt: '', voice_id: null });
  });

  it.each([
    [{}, /body must have the field "name"/],
    [{ name: '' }, /body\/name must not be empty/],
    [{ name: 'nul\u0000name' }, /body\/name must not contain the NUL character/],
    [{ name: 'A', system_prompt: 'x\u0000' }, /body\/system_prompt must not contain the NUL character/],
    [{ name: '   ' }, /body\/name must not be empty or whitespace only/],
    [{ name: 'x'.repeat(101) }, /body\/name must NOT have more than 100 characters/],
    [{ name: 42 }, /body\/name must be string/],
    [{ name: 'A', system_prompt: 'x'.repeat(20_001) }, /body\/system_prompt must NOT have more than 20000 characters/],
    [{ name: 'A', voice_id: 7 }, /body\/voice_id must be string or null/],
    [{ name: 'A', voice_id: 'x'.repeat(101) }, /body\/voice_id must NOT have more than 100 characters/],
    [{ name: 'A', voiceId: 'Amy' }, /body has an unknown field "voiceId"/],
  ])('rejects %j with a 400 that names the problem and stores nothing', async (body, message) => {
    const before = await countPersonas();
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(message) });
    expect(await countPersonas()).toBe(before);
  });

  it('accepts a name of exactly 100 characters and a prompt of 20,000', async () => {
    const res = await post({ name: 'n'.repeat(100), system_prompt: 'p'.repeat(20_000) });
    expect(res.statusCode).toBe(201);
  });

  it('rejects invalid JSON with a 400', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/personas',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "A",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/JSON/);
  });

  it('rejects a voice the engine cannot speak with a 422 naming the voice', async () => {
    const before = await countPersonas();
    const res = await post({ name: 'A', voice_id: 'NoSuchVoice' });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toContain('NoSuchVoice');
    expect(await countPersonas()).toBe(before);

    const ok = (await post({ name: 'B' })).json();
    const bad = await patch(ok.id, { voice_id: 'NoSuchVoice' });
    expect(bad.statusCode).toBe(422);
    expect((await t.app.inject({ method: 'GET', url: `/api/personas/${ok.id}` })).json().voice_id).toBeNull();
  });

  it('rejects an empty PATCH and unknown fields', async () => {
    const { id } = (await post({ name: 'C' })).json();
    expect((await patch(id, {})).json().message).toMatch(/at least one field/);
    expect((await patch(id, { nam: 'x' })).statusCode).toBe(400);
  });

  it('answers 404 for unknown ids and 400 for ids that are not UUIDs', async () => {
    for (const [method, payload] of [['GET'], ['PATCH', { name: 'x' }], ['DELETE']] as const) {
      const res = await t.app.inject({ method, url: `/api/personas/${MISSING}`, ...(payload ? { payload } : {}) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: `persona ${MISSING} not found` });
    }
    const bad = await t.app.inject({ method: 'GET', url: '/api/personas/not-a-uuid' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('params/id must be a UUID');
  });

  it('leaves sessions working after their persona is deleted, on the default voice', async () => {
    const persona = (await post({ name: 'Brit', voice_id: 'Brian' })).json();
    const session = (await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: persona.id } })).json();
    expect(session.voice_id).toBe('Brian');

    await t.app.inject({ method: 'DELETE', url: `/api/personas/${persona.id}` });
    const after = await t.app.inject({ method: 'GET', url: `/api/chat/${session.session_id}` });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ persona_id: null, voice_id: 'Joanna' });

    const posted = await t.app.inject({
      method: 'POST',
      url: `/api/chat/${session.session_id}/message`,
      payload: { message: 'still there?' },
    });
    expect(posted.statusCode).toBe(200);
    expect(posted.json().history).toHaveLength(2);
  });
});
