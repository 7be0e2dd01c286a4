// Chatting in a real browser against the real API, whose LLM is the loopback Gemini server (so a
// test can hold a reply mid-stream or script what it says), with eSpeak speech and local files:
// a chat started from the Persona select, Enter and Shift+Enter, a reply seen while it streams,
// Play and Stop on the page's one media element, a reply that tries HTML and script (XSS), axe on a
// chat with messages, and deleting a chat.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { axe, launchBrowser, mediaState, openPage, waitForPlayback, type OpenedPage } from '../support/browser.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import {
  api,
  geminiEnv,
  playIn,
  poll,
  startPageApp,
  stopIn,
  textOf,
  ui,
  unexpectedProblems,
  type PageApp,
  type Persona,
  type Session,
} from './fixture.ts';

let gemini: GeminiServer;
let app: PageApp;
let browser: Browser;
let tab: OpenedPage;
let captain: Persona;

const FIRST = 'Ahoy there, this is the first sentence of the reply.';
const REST = ' The second sentence comes only after the release. And a third one ends it.';

beforeAll(async () => {
  gemini = await startGeminiServer();
  [app, browser] = await Promise.all([startPageApp(geminiEnv(gemini)), launchBrowser()]);
  const voices = await api(app.t).voices();
  const voiceId = voices.find((v) => v.language_code.startsWith('en'))?.id ?? null;
  captain = await api(app.t).createPersona({ name: 'Captain', system_prompt: 'You are a pirate captain.', voice_id: voiceId });
  // Autoplay off here, so that Play is what starts playback; autoplay has a file of its own.
  tab = await openPage(browser, app.base, { localStorage: { 'chatbox.autoplay': 'off' } });
});
afterAll(async () => {
  gemini?.release();
  await tab?.close();
  await browser?.close();
  await app?.t.close();
  await gemini?.close();
});
beforeEach(() => {
  gemini.reset();
  // Each test answers for the console errors, page errors and CSP violations of its own steps.
  tab?.clearProblems();
});

describe.sequential('a chat', () => {
  it('starts with the persona chosen in "Persona" when "New chat" is pressed', async () => {
    const page = ui(tab.page);
    await poll(() => page.persona.locator('option').allTextContents(), 'Persona options').toContain('Captain');
    await page.persona.selectOption({ label: 'Captain' });
    await page.newChat.click();

    await poll(() => textOf(page.openChat), 'the open chat in the Chats list').toMatch(/^Captain/);
    const chats = await api(app.t).chats();
    expect(chats).toHaveLength(1);
    expect(chats[0]!.persona_id).toBe(captain.id);
    await page.message.waitFor({ state: 'visible' });
    expect(await page.autoplay.isChecked(), 'Autoplay (stored off for this file)').toBe(false);
  });

  it('Shift+Enter starts a new line without sending', async () => {
    const page = ui(tab.page);
    await page.message.click();
    await page.message.pressSequentially('First line');
    await page.message.press('Shift+Enter');
    await page.message.pressSequentially('second line');
    expect(await page.message.inputValue()).toBe('First line\nsecond line');
    expect(gemini.requests, 'requests to the LLM after Shift+Enter').toHaveLength(0);
    expect(await page.articles.count(), 'messages after Shift+Enter').toBe(0);
  });

  it('Enter sends; the reply is shown while it streams, then whole, with a Play button', async () => {
    const page = ui(tab.page);
    gemini.nextDeltas([FIRST, REST]);
    const held = gemini.holdAfter(1);
    await page.message.press('Enter');
    await held;

    // The user's message, as written, and the reply so far: the first sentence, not the rest.
    const mine = page.log.getByRole('article', { name: 'You' });
    await poll(() => textOf(mine.last()), 'the sent message').toContain('First line');
    expect(await textOf(mine.last())).toContain('second line');
    expect(await page.message.inputValue(), 'the Message box after sending').toBe('');
    const reply = page.log.getByRole('article', { name: 'Captain' }).last();
    await poll(() => textOf(reply), 'the reply while the stream is held').toContain(FIRST);
    expect(await textOf(reply)).not.toContain('second sentence');
    expect(await textOf(page.lastArticle), 'the last article while held').toContain(FIRST);
    expect(gemini.requests[0]?.body.contents?.at(-1)?.parts?.[0]?.text).toBe('First line\nsecond line');

    gemini.release();
    await poll(() => textOf(reply), 'the reply after the release').toContain('And a third one ends it.');
    await playIn(reply).waitFor({ state: 'visible' });
    expect(await textOf(reply)).toContain(FIRST);
    expect(await page.articles.count()).toBe(2);

    // The page and the API agree on what was said.
    const [chat] = await api(app.t).chats();
    const stored = async () => ((await api(app.t).chat(chat!.session_id)).json().history as Array<{ content: string }>).map((m) => m.content);
    await poll(stored, 'the stored exchange').toEqual(['First line\nsecond line', FIRST + REST]);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('Play plays the reply in the page\'s media element, reads "Stop" while playing, and Stop pauses it', async () => {
    const page = ui(tab.page);
    const reply = page.log.getByRole('article', { name: 'Captain' }).last();
    const before = await mediaState(tab.page);
    expect(before === null || before.paused, 'nothing plays before Play (autoplay is off)').toBe(true);

    await playIn(reply).click();
    const playing = await waitForPlayback(tab.page);
    expect(playing.count, '<audio> elements in the page').toBe(1);
    // The stored MP3, or the streamed segments the page kept (blob: URLs) if it still holds them.
    expect(playing.currentSrc).toMatch(/\.mp3$|^blob:/);
    await stopIn(reply).waitFor({ state: 'visible' });

    await stopIn(reply).click();
    await poll(async () => (await mediaState(tab.page))?.paused, 'the media element after Stop').toBe(true);
    await playIn(reply).waitFor({ state: 'visible' });
    const stoppedAt = (await mediaState(tab.page))!.currentTime;
    // Paused means paused: the time does not move any more.
    await tab.page.waitForTimeout(300);
    expect((await mediaState(tab.page))!.currentTime).toBe(stoppedAt);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('after a reload, Play plays the stored MP3 of the reply', async () => {
    const page = ui(tab.page);
    const calls = api(app.t);
    const [chat] = await calls.chats();
    const stored = (await calls.chat(chat!.session_id)).json() as Session;
    const audioUrl = stored.history.at(-1)!.audio_url!;
    // Until the worker has written it, the page would rightly say "Audio not ready".
    await poll(() => calls.audioReady(audioUrl), `the stored audio ${audioUrl}`).toBe(true);
    await tab.page.reload();
    await page.chatButton('Captain').click();
    const reply = page.log.getByRole('article', { name: 'Captain' }).last();
    await playIn(reply).click();
    const playing = await waitForPlayback(tab.page);
    expect(playing.currentSrc).toMatch(/\.mp3$/);
    expect(new URL(playing.currentSrc).pathname).toBe(new URL(audioUrl, app.base).pathname);
    await stopIn(reply).click();
    await poll(async () => (await mediaState(tab.page))?.paused, 'the media element after Stop').toBe(true);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('shows a reply that tries HTML and script as text: nothing runs, no img, script or javascript: link', async () => {
    const page = ui(tab.page);
    const XSS = 'Hi <img src=x onerror="window.__xss=1"> and [click](javascript:window.__xss=2) and <script>window.__xss=3</script>';
    gemini.nextReply(XSS);
    await page.message.fill('Say something dangerous');
    // Send is disabled while the previous reply is still being sent; a person waits for it, and so does the test.
    await poll(() => page.send.isEnabled(), 'Send, enabled once the previous reply is done').toBe(true);
    await page.message.press('Enter');

    const reply = page.log.getByRole('article', { name: 'Captain' }).last();
    await poll(() => textOf(reply), 'the dangerous reply').toContain('and <script>');
    await playIn(reply).waitFor({ state: 'visible' });
    const anchors = reply.locator('a');
    // A click on whatever the link became must not run it either.
    if (await anchors.count()) await anchors.first().click({ noWaitAfter: true });

    expect(await tab.page.evaluate(() => (globalThis as Record<string, unknown>).__xss)).toBeUndefined();
    expect(await reply.locator('img, script, iframe, object, embed').count(), 'active elements in the reply').toBe(0);
    const hrefs = await anchors.evaluateAll((els) => els.map((el) => el.getAttribute('href') ?? ''));
    expect(hrefs.filter((h) => /^\s*javascript:/i.test(h)), 'javascript: links').toEqual([]);
    expect(await textOf(reply)).toContain('<img src=x');
    // Nothing was even attempted: a blocked inline handler would show up as a CSP violation.
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('has no serious or critical axe violations with messages shown', async () => {
    expect(await axe(tab.page), 'axe on a chat with messages').toEqual([]);
  });

  it('deletes a chat: it leaves the list and the API answers 404 for it', async () => {
    const page = ui(tab.page);
    const calls = api(app.t);
    const ephemeral = await calls.createPersona({ name: 'Ephemeral' });
    // Made through the API, so the page learns of it on its next load.
    await tab.page.reload();
    await page.personas.getByRole('button', { name: 'Ephemeral', exact: true }).waitFor();
    await page.persona.selectOption({ label: 'Ephemeral' });
    await page.newChat.click();
    await poll(() => textOf(page.openChat), 'the open chat').toMatch(/^Ephemeral/);
    const session = (await calls.chats()).find((c) => c.persona_id === ephemeral.id)!;
    expect(session).toBeDefined();
    const others = await page.chats.getByRole('listitem').count();

    await page.deleteChat('Ephemeral').click();
    await page.chatButton('Ephemeral').waitFor({ state: 'detached' });
    await poll(() => page.chats.getByRole('listitem').count(), 'chats left in the list').toBe(others - 1);
    expect((await calls.chat(session.session_id)).statusCode).toBe(404);
    // The Captain's chat is still there.
    await page.chatButton('Captain').waitFor();
    expect(unexpectedProblems(tab)).toEqual([]);
  });
});
