// The chat API driven by the real Gemini and OpenAI SDKs against loopback servers that speak their
// protocols: what reaches the LLM, and how each kind of failure reaches the client.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startOpenAiServer, type OpenAiServer } from '../support/openai-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const SECRET = 'AIza-very-secret-test-key';

describe('with Gemini', () => {
  let gemini: GeminiServer;
  let t: TestApp;
  beforeAll(async () => {
    gemini = await startGeminiServer();
    t = await startTestApp({
      LLM_PROVIDER: '',
      GEMINI_API_KEY: SECRET,
      GEMINI_BASE_URL: gemini.url,
      GEMINI_MODEL: 'gemini-test',
      LLM_TIMEOUT_MS: '400',
      LLM_HISTORY_LIMIT: '4',
    });
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
  });
  beforeEach(() => gemini.reset());

  const session = async (body?: object) =>
    (await t.app.inject({ method: 'POST', url: '/api/chat', ...(body ? { payload: body } : {}) })).json().session_id as string;
  const send = (id: string, message: string) =>
    t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message } });
  const historyLength = async (id: string) =>
    (await t.app.inject({ method: 'GET', url: `/api/chat/${id}` })).json().history.length as number;

  it('is chosen when GEMINI_API_KEY is set, and gets the system prompt, roles and the last LLM_HISTORY_LIMIT messages', async () => {
    const persona = (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'G', system_prompt: 'Be brief.' } })).json();
    const id = await session({ persona_id: persona.id });
    for (const m of ['one', 'two', 'three']) expect((await send(id, m)).statusCode).toBe(200);

    const last = gemini.requests.at(-1)!;
    expect(last.model).toBe('gemini-test');
    expect(last.headers['x-goog-api-key']).toBe(SECRET);
    expect(last.body.systemInstruction?.parts?.[0]?.text).toBe('Be brief.');
    const contents = last.body.contents!;
    // Four history messages (the limit), then the new message.
    expect(contents.map((c) => c.role)).toEqual(['user', 'model', 'user', 'model', 'user']);
    expect(contents.map((c) => c.parts?.[0]?.text)).toEqual(['one', 'You said: one', 'two', 'You said: two', 'three']);
  });

  it("answers the provider's 429 as 429 with Retry-After, and stores nothing", async () => {
    const id = await session();
    gemini.nextError(429, { retryDelay: '7s' });
    const res = await send(id, 'hello');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json().message).toMatch(/gemini/i);
    expect(await historyLength(id)).toBe(0);
  });

  it('answers a timeout as 504, and stores nothing', async () => {
    const id = await session();
    gemini.nextDelay(2_000);
    const res = await send(id, 'hello');
    expect(res.statusCode).toBe(504);
    expect(res.json().message).toMatch(/gemini.*400 ms/i);
    expect(await historyLength(id)).toBe(0);
  });

  it('answers a provider error as 502 naming the provider but not its key, and stores nothing', async () => {
    const id = await session();
    gemini.nextError(500, { message: `backend exploded for key ${SECRET}` });
    const res = await send(id, 'hello');
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toBe('Bad Gateway');
    expect(res.json().message).toMatch(/gemini/i);
    expect(res.body).not.toContain(SECRET);
    expect(JSON.stringify(t.logs)).not.toContain(SECRET);
    expect(await historyLength(id)).toBe(0);
  });

  it('answers a blocked or empty candidate as 502, and stores nothing', async () => {
    const id = await session();
    gemini.nextBlocked('SAFETY');
    expect((await send(id, 'hello')).statusCode).toBe(502);
    gemini.nextEmpty();
    expect((await send(id, 'hello')).statusCode).toBe(502);
    expect(await historyLength(id)).toBe(0);
    // And the service is still up.
    expect((await send(id, 'hello')).statusCode).toBe(200);
  });
});

describe('with an OpenAI-compatible server', () => {
  let openai: OpenAiServer;
  let t: TestApp;
  beforeAll(async () => {
    openai = await startOpenAiServer();
    t = await startTestApp({
      LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: openai.url,
      OPENAI_MODEL: 'llama3.2',
      LLM_TIMEOUT_MS: '400',
    });
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  it('sends the system prompt and history as chat messages and saves the reply', async () => {
    const persona = (await t.app.inject({ method: 'POST', url: '/api/personas', payload: { name: 'O', system_prompt: 'Be kind.' } })).json();
    const id = (await t.app.inject({ method: 'POST', url: '/api/chat', payload: { persona_id: persona.id } })).json().session_id;
    await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'first' } });
    const res = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'second' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().history.map((m: { content: string }) => m.content)).toEqual([
      'first',
      'You said: first',
      'second',
      'You said: second',
    ]);
    const body = openai.requests.at(-1)!.body;
    expect(body.model).toBe('llama3.2');
    expect(body.messages!.map((m) => [m.role, m.content])).toEqual([
      ['system', 'Be kind.'],
      ['user', 'first'],
      ['assistant', 'You said: first'],
      ['user', 'second'],
    ]);
  });

  it('maps 429 and 500 to 429 and 502', async () => {
    const id = (await t.app.inject({ method: 'POST', url: '/api/chat' })).json().session_id;
    openai.nextError(429, { retryAfter: 3 });
    const limited = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'x' } });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    openai.nextError(500);
    const failed = await t.app.inject({ method: 'POST', url: `/api/chat/${id}/message`, payload: { message: 'x' } });
    expect(failed.statusCode).toBe(502);
    expect(failed.json().message).toMatch(/openai/i);
  });
});
