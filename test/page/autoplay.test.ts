// Autoplay in a real browser against the real API (loopback Gemini with short replies, eSpeak
// speech, local files), under Chromium's default autoplay policy: a new reply plays by itself when
// Autoplay is checked, once (not again after it ends, nor when the chat is opened again), and
// nothing plays when it is unchecked. Whether the page even tried is read from its play() calls.
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, mediaLog, mediaState, openPage, waitForPlayback, type OpenedPage } from '../support/browser.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { api, geminiEnv, playIn, poll, startPageApp, stopIn, textOf, ui, unexpectedProblems, type PageApp } from './fixture.ts';

let gemini: GeminiServer;
let app: PageApp;
let browser: Browser;
const tabs: OpenedPage[] = [];

/** How long "nothing happens" is watched for: past the time a reply's first segment takes to play. */
const QUIET_MS = 1500;

beforeAll(async () => {
  gemini = await startGeminiServer();
  [app, browser] = await Promise.all([startPageApp(geminiEnv(gemini)), launchBrowser()]);
});
afterAll(async () => {
  for (const tab of tabs) await tab.close().catch(() => {});
  await browser?.close();
  await app?.t.close();
  await gemini?.close();
});
beforeEach(() => gemini.reset());

async function open(path = '/'): Promise<OpenedPage> {
  const tab = await openPage(browser, `${app.base}${path}`);
  tabs.push(tab);
  return tab;
}

const storedAutoplay = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('chatbox.autoplay'));

/** Types a message and sends it with Enter once Send is enabled. */
async function send(page: Page, text: string) {
  const p = ui(page);
  await p.message.fill(text);
  await poll(() => p.send.isEnabled(), 'Send enabled').toBe(true);
  await p.message.press('Enter');
}

/** How many messages the API has stored in a chat (an exchange is stored once its reply is complete). */
async function storedMessages(sessionId: string) {
  return ((await api(app.t).chat(sessionId)).json().history as unknown[]).length;
}

describe.sequential('autoplay', () => {
  it('with Autoplay checked (the default), a new reply plays by itself, once', async () => {
    const tab = await open();
    const page = ui(tab.page);
    await page.autoplay.waitFor();
    expect(await page.autoplay.isChecked(), 'Autoplay by default').toBe(true);
    expect([null, 'on']).toContain(await storedAutoplay(tab.page));

    await page.newChat.click();
    await page.message.waitFor();
    const chat = (await api(app.t).chats())[0]!;
    gemini.nextReply('Hi there. Nice to meet you.');
    await send(tab.page, 'Hello!');

    // It plays with no Play pressed: the media element advances, and the reply offers Stop.
    const reply = page.log.getByRole('article').last();
    await waitForPlayback(tab.page);
    await stopIn(reply).waitFor({ state: 'visible' });
    expect(await textOf(reply)).toContain('Nice to meet you.');

    // It ends by itself, and does not start again.
    await playIn(reply).waitFor({ state: 'visible', timeout: 30_000 });
    await poll(storedMessages.bind(null, chat.session_id), 'messages stored').toBe(2);
    const afterEnd = await mediaLog(tab.page);
    expect(afterEnd.playCalls.length, 'play() calls while the reply was heard').toBeGreaterThan(0);
    expect(afterEnd.events.map((e) => e.type)).toContain('ended');
    // Once: no source (a streamed segment, or the stored MP3) was started twice.
    expect(afterEnd.playCalls.length, `play() calls: ${afterEnd.playCalls.join(', ')}`).toBe(new Set(afterEnd.playCalls).size);
    await tab.page.waitForTimeout(QUIET_MS);
    expect((await mediaLog(tab.page)).playCalls, 'play() calls after the end').toEqual(afterEnd.playCalls);
    expect((await mediaState(tab.page))?.paused).toBe(true);

    // Opened again, an old reply stays quiet until asked.
    await tab.page.reload();
    await page.chatButton('Default voice').click();
    await playIn(page.log.getByRole('article').last()).waitFor({ state: 'visible' });
    await tab.page.waitForTimeout(QUIET_MS);
    expect((await mediaLog(tab.page)).playCalls, 'play() calls after reopening the chat').toEqual([]);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('with Autoplay unchecked, a new reply does not play, and the choice is kept', async () => {
    const tab = await open();
    const page = ui(tab.page);
    await page.autoplay.waitFor();
    await page.autoplay.uncheck();
    await poll(() => storedAutoplay(tab.page), 'chatbox.autoplay').toBe('off');

    await page.newChat.click();
    await page.message.waitFor();
    const chat = (await api(app.t).chats())[0]!;
    gemini.nextReply('Quiet please. Nobody plays this.');
    await send(tab.page, 'Hello again');

    const reply = page.log.getByRole('article').last();
    await poll(() => textOf(reply), 'the reply').toContain('Nobody plays this.');
    await playIn(reply).waitFor({ state: 'visible' });
    await poll(storedMessages.bind(null, chat.session_id), 'messages stored').toBe(2);
    await tab.page.waitForTimeout(QUIET_MS);
    expect((await mediaLog(tab.page)).playCalls, 'play() calls with Autoplay off').toEqual([]);
    const media = await mediaState(tab.page);
    expect(media === null || media.paused).toBe(true);

    await tab.page.reload();
    await page.autoplay.waitFor();
    expect(await page.autoplay.isChecked(), 'Autoplay after a reload').toBe(false);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('with /?stream=off, the page uses the plain POST and autoplays the stored MP3', async () => {
    const tab = await open('/?stream=off');
    const page = ui(tab.page);
    const posts: Request[] = [];
    tab.page.on('request', (r) => {
      if (r.method() === 'POST' && /\/api\/chat\/[^/]+\/message$/.test(new URL(r.url()).pathname)) posts.push(r);
    });
    await page.autoplay.waitFor();
    expect(await page.autoplay.isChecked()).toBe(true);
    await page.newChat.click();
    await page.message.waitFor();
    gemini.nextReply('A plain reply. Heard all at once.');
    await send(tab.page, 'No streaming, please');

    const reply = page.log.getByRole('article').last();
    await poll(() => textOf(reply), 'the reply').toContain('Heard all at once.');
    const playing = await waitForPlayback(tab.page);
    expect(playing.currentSrc).toMatch(/\.mp3$/);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.headers().accept ?? '').not.toMatch(/text\/event-stream/);
    expect((await posts[0]!.response())?.headers()['content-type']).toMatch(/^application\/json/);
    await stopIn(reply).click();
    await poll(async () => (await mediaState(tab.page))?.paused, 'paused after Stop').toBe(true);
    expect(unexpectedProblems(tab)).toEqual([]);
  });
});
