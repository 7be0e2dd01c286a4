// What the page tests share: the real API serving this run's build of the page, JSON calls to it
// (to seed data and to check what the page did), and the page's controls by their accessible names
// (the contract between the page and these tests).
import type { Locator, Page } from 'playwright-core';
import { expect, inject } from 'vitest';
import type { OpenedPage } from '../support/browser.ts';
import { WAIT_MS } from '../support/browser.ts';
import type { GeminiServer } from '../support/gemini-server.ts';
import { startTestApp, type TestApp, type TestAppOptions } from '../support/test-app.ts';

export interface PageApp {
  t: TestApp;
  /** e.g. http://127.0.0.1:41234 */
  base: string;
}

/** The folder the page was built into for this run (test/support/web-build.ts); throws if it did not build. */
export function webDir(): string {
  const error = inject('webBuildError');
  if (error) throw new Error(`The page did not build (web/, vite build):\n${error}`);
  return inject('webDir');
}

/** The real product on a database of its own, serving the page built for this run, listening on loopback. */
export async function startPageApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<PageApp> {
  const t = await startTestApp(env, { ...opts, wiring: { ...opts.wiring, pageDir: webDir() } });
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, base };
}

/** The environment for an API whose LLM is the loopback Gemini server; speech stays eSpeak, storage local files. */
export const geminiEnv = (gemini: GeminiServer): Record<string, string> => ({
  LLM_PROVIDER: 'gemini',
  GEMINI_API_KEY: 'test',
  GEMINI_BASE_URL: gemini.url,
});

export interface Persona {
  id: string;
  name: string;
  system_prompt: string;
  voice_id: string | null;
}
export interface Message {
  seq: number;
  role: 'user' | 'model';
  content: string;
  audio_url: string | null;
}
export interface Session {
  session_id: string;
  persona_id: string | null;
  voice_id: string;
  history: Message[];
  has_more: boolean;
}
export interface Voice {
  id: string;
  name: string;
  language_code: string;
  language_name: string;
}

/** JSON calls to the API as one caller (a Bearer key, or none). */
export function api(t: TestApp, key?: string) {
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, expected?: number) => {
    const res = await t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    if (expected !== undefined) expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(expected);
    return res;
  };
  return {
    call,
    voices: async (): Promise<Voice[]> => (await call('GET', '/api/voices', undefined, 200)).json(),
    personas: async (): Promise<Persona[]> => (await call('GET', '/api/personas', undefined, 200)).json(),
    createPersona: async (body: { name: string; system_prompt?: string; voice_id?: string | null }): Promise<Persona> =>
      (await call('POST', '/api/personas', body, 201)).json(),
    chats: async (): Promise<Session[]> => (await call('GET', '/api/chat', undefined, 200)).json(),
    createChat: async (personaId: string | null = null): Promise<Session> =>
      (await call('POST', '/api/chat', { persona_id: personaId }, 201)).json(),
    chat: (id: string) => call('GET', `/api/chat/${id}`),
    send: async (id: string, message: string): Promise<Session> =>
      (await call('POST', `/api/chat/${id}/message`, { message }, 200)).json(),
    /**
     * Whether a stored reply's audio can be fetched yet. A streamed reply is stored with its
     * audio_url at once; its whole MP3 is written by the audio worker a moment later.
     */
    audioReady: async (audioUrl: string): Promise<boolean> =>
      (await t.app.inject({ method: 'GET', url: new URL(audioUrl, 'http://localhost').pathname })).statusCode === 200,
  };
}

/** The page's controls, by the names the page promises. */
export function ui(page: Page) {
  const log = page.getByRole('log', { name: 'Messages' });
  const chats = page.getByRole('list', { name: 'Chats' });
  return {
    page,
    // persona editor
    name: page.getByRole('textbox', { name: 'Name', exact: true }),
    systemPrompt: page.getByRole('textbox', { name: 'System prompt' }),
    voice: page.getByRole('combobox', { name: 'Voice', exact: true }),
    searchVoices: page.getByRole('searchbox', { name: 'Search voices' }),
    previewVoice: page.getByRole('button', { name: 'Preview voice' }),
    savePersona: page.getByRole('button', { name: 'Save persona' }),
    newPersona: page.getByRole('button', { name: 'New persona' }),
    deletePersona: page.getByRole('button', { name: 'Delete persona' }),
    personas: page.getByRole('list', { name: 'Personas' }),
    // chats
    persona: page.getByRole('combobox', { name: 'Persona', exact: true }),
    newChat: page.getByRole('button', { name: 'New chat' }),
    chats,
    /** The button that opens a chat, by the start of its label (the persona's name or "Default voice"). */
    chatButton: (label: string) => chats.getByRole('button', { name: new RegExp(`^${escape(label)}`) }),
    deleteChat: (label: string) => chats.getByRole('button', { name: new RegExp(`^Delete chat: ${escape(label)}`) }),
    openChat: chats.locator('[aria-current="true"]'),
    sidebarToggle: page.getByRole('button', { name: 'Chats and personas' }),
    // the conversation
    log,
    articles: log.getByRole('article'),
    lastArticle: log.getByRole('article').last(),
    loadOlder: page.getByRole('button', { name: 'Load older messages' }),
    message: page.getByRole('textbox', { name: 'Message' }),
    send: page.getByRole('button', { name: 'Send', exact: true }),
    autoplay: page.getByRole('checkbox', { name: 'Autoplay' }),
    // access
    apiKey: page.getByRole('textbox', { name: 'API key' }),
    useKey: page.getByRole('button', { name: 'Use key' }),
    alert: page.getByRole('alert'),
  };
}

export const playIn = (article: Locator) => article.getByRole('button', { name: 'Play', exact: true });
export const stopIn = (article: Locator) => article.getByRole('button', { name: 'Stop', exact: true });

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Polls until `read` satisfies `check`, with the suite's generous timeout; vitest's expect.poll with a label. */
export const poll = <T>(read: () => Promise<T> | T, message: string, timeout = WAIT_MS) =>
  expect.poll(read, { timeout, interval: 100, message });

/** The text of a locator, '' when it is not there. */
export const textOf = async (locator: Locator) => ((await locator.count()) ? ((await locator.textContent()) ?? '') : '');

/** Console errors, page errors and CSP violations, less the lines a test expects (e.g. a 401 it provoked). */
export function unexpectedProblems(tab: OpenedPage, allowed: RegExp[] = []): string[] {
  return tab.problems().filter((line) => !allowed.some((re) => re.test(line)));
}
