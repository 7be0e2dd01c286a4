// The OpenAPI document is good enough to generate a working client: the types openapi-typescript
// makes from the live document are the committed ones, and an openapi-fetch client typed with them
// runs the whole flow over real HTTP, audio download included.
import { readFileSync } from 'node:fs';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TYPES_PATH, apiTypesFrom } from '../support/api-types.ts';
import type { paths } from '../../web/src/api/schema.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let origin: string;
beforeAll(async () => {
  t = await startTestApp();
  origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => t?.close());

describe('a client generated from the OpenAPI document', () => {
  it('is generated from the committed types: the document and the client have not drifted', async () => {
    const document: unknown = await (await fetch(`${origin}/docs/json`)).json();
    const generated = await apiTypesFrom(document);
    // When this fails, the API's document changed: run `npm run openapi:types` and commit the result.
    expect(generated, 'web/src/api/schema.ts is stale: run npm run openapi:types').toBe(
      readFileSync(API_TYPES_PATH, 'utf8'),
    );
  });

  it('runs the whole flow, downloading the reply audio through the audio operation', async () => {
    // JSON answers only: the message route also documents its text/event-stream answer.
    const api = createClient<paths, 'application/json'>({ baseUrl: origin });

    const voices = await api.GET('/api/voices');
    expect(voices.response.status).toBe(200);
    const voiceIds = voices.data!.map((v) => v.id);
    expect(voiceIds).toContain('Matthew');
    expect(voiceIds).toContain('Amy');

    const created = await api.POST('/api/personas', {
      body: { name: 'Captain', system_prompt: 'You are a cheerful pirate captain.', voice_id: 'Matthew' },
    });
    expect(created.response.status).toBe(201);
    const persona = created.data!;
    expect(persona).toMatchObject({ name: 'Captain', voice_id: 'Matthew' });

    const started = await api.POST('/api/chat', { body: { persona_id: persona.id } });
    expect(started.response.status).toBe(201);
    const sessionId = started.data!.session_id;
    expect(started.data).toMatchObject({ persona_id: persona.id, voice_id: 'Matthew', history: [] });

    const path = { session_id: sessionId };
    const posted = await api.POST('/api/chat/{session_id}/message', {
      params: { path },
      body: { message: 'Where is the treasure?' },
    });
    expect(posted.response.status).toBe(200);
    expect(posted.data!.history.map((m) => m.role)).toEqual(['user', 'model']);
    const audioUrl = posted.data!.history[1]!.audio_url;
    expect(audioUrl).toMatch(/^\/audio\/.+\.mp3$/);

    const session = await api.GET('/api/chat/{session_id}', { params: { path } });
    expect(session.response.status).toBe(200);
    expect(session.data!.history[1]!.audio_url).toBe(audioUrl);

    // The key is audio_url's path after /audio/; it contains '/', which the client percent-encodes.
    const key = audioUrl!.slice('/audio/'.length);
    expect(key).toContain('/');
    const audio = await api.GET('/audio/{key}', { params: { path: { key } }, parseAs: 'arrayBuffer' });
    expect(audio.response.url).toContain('%2F');
    expect(audio.response.status).toBe(200);
    expect(audio.response.headers.get('content-type')).toBe('audio/mpeg');
    const bytes = new Uint8Array(audio.data!);
    expect(bytes.length).toBeGreaterThan(1000);
    const id3 = Buffer.from(bytes.subarray(0, 3)).toString('latin1') === 'ID3';
    const frameSync = bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0;
    expect(id3 || frameSync, 'starts with an ID3 tag or an MP3 frame sync').toBe(true);

    const patched = await api.PATCH('/api/personas/{id}', { params: { path: { id: persona.id } }, body: { voice_id: 'Amy' } });
    expect(patched.response.status).toBe(200);
    expect(patched.data!.voice_id).toBe('Amy');

    const personaGone = await api.DELETE('/api/personas/{id}', { params: { path: { id: persona.id } } });
    expect(personaGone.response.status).toBe(204);

    const sessionGone = await api.DELETE('/api/chat/{session_id}', { params: { path } });
    expect(sessionGone.response.status).toBe(204);

    // Errors come back typed as the Error component.
    const missing = await api.GET('/api/chat/{session_id}', { params: { path } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ statusCode: 404, error: 'Not Found' });
  }, 60_000);
});
