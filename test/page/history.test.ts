// A long chat in a real browser: the page opens on its last page of history (has_more true), and
// older messages come, in order, from "Load older messages" or from scrolling the log to the top.
// The chat is seeded through the HTTP API (offline LLM with short replies, eSpeak, local files).
import type { Browser, Response } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, type OpenedPage } from '../support/browser.ts';
import { api, poll, startPageApp, ui, unexpectedProblems, type PageApp, type Session } from './fixture.ts';

/** Enough for any first page of up to 2 × 25 messages to leave some out; has_more says whether it did. */
const EXCHANGES = 26;
const question = (i: number) => `Question number ${String(i).padStart(2, '0')}`;
const QUESTIONS = Array.from({ length: EXCHANGES }, (_, i) => question(i + 1));

let app: PageApp;
let browser: Browser;
let tab: OpenedPage;
let session: Session;
/** The page's GET /api/chat/{id} answers, in order. */
const historyPages: Array<{ url: string; body: Session }> = [];

beforeAll(async () => {
  // Short replies: the seeding costs an LLM call and a synthesis per exchange.
  [app, browser] = await Promise.all([startPageApp({ LLM_MAX_OUTPUT_TOKENS: '8' }), launchBrowser()]);
  const calls = api(app.t);
  const historian = await calls.createPersona({ name: 'Historian', system_prompt: 'You remember everything.' });
  session = await calls.createChat(historian.id);
  for (const q of QUESTIONS) await calls.send(session.session_id, q);
  tab = await openPage(browser, app.base);
  tab.page.on('response', (r: Response) => {
    const url = new URL(r.url());
    if (r.request().method() === 'GET' && url.pathname === `/api/chat/${session.session_id}`) {
      void r.json().then((body: Session) => historyPages.push({ url: url.pathname + url.search, body }), () => {});
    }
  });
}, 120_000);
// Each test answers for the console errors, page errors and CSP violations of its own steps.
beforeEach(() => tab?.clearProblems());
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await app?.t.close();
});

/** The user messages shown, in the order the page shows them. */
const shownQuestions = () =>
  ui(tab.page).log.getByRole('article', { name: 'You' }).allTextContents().then((texts) => texts.map((t) => t.trim()));

/** Opens the Historian's chat afresh and checks that its first page leaves older messages out. */
async function openChat() {
  const page = ui(tab.page);
  historyPages.length = 0;
  await tab.page.reload();
  await page.chatButton('Historian').click();
  await page.log.getByRole('article', { name: 'You' }).filter({ hasText: question(EXCHANGES) }).waitFor();
  await poll(() => historyPages.length, "the page's first history request").toBeGreaterThan(0);
  const first = historyPages[0]!;
  expect(first.body.has_more, `the page's first page (${first.url}) should leave older messages out; seed more`).toBe(true);
  const shown = await shownQuestions();
  expect(shown, 'the first question, before older messages are loaded').not.toContain(question(1));
  // The newest messages, in order, ending with the last.
  expect(shown).toEqual(QUESTIONS.slice(QUESTIONS.length - shown.length));
  await page.loadOlder.waitFor({ state: 'visible' });
}

describe.sequential('older history', () => {
  it('the whole history is in the API', async () => {
    const full = (await api(app.t).chat(session.session_id)).json() as Session;
    expect(full.history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(QUESTIONS);
  });

  it('"Load older messages" brings the older messages, in order, up to the first', async () => {
    const page = ui(tab.page);
    await openChat();
    for (let i = 0; i < 10 && !(await shownQuestions()).includes(question(1)); i++) {
      const before = await page.articles.count();
      // Pressed from the keyboard, focused without scrolling: a click scrolls the button into view,
      // and with it the sentinel above it, whose observer then races the click (and on a loaded
      // machine wins, page after page, until the button is gone). This way only the button loads.
      await page.loadOlder.evaluate((button) => button.focus({ preventScroll: true }));
      await tab.page.keyboard.press('Enter');
      await poll(() => page.articles.count(), 'messages after "Load older messages"').toBeGreaterThan(before);
    }
    expect(await shownQuestions()).toEqual(QUESTIONS);
    expect(await page.articles.count(), 'every message, each once').toBe(2 * EXCHANGES);
    // Nothing older is left: the button goes.
    await page.loadOlder.waitFor({ state: 'detached' });
    expect(historyPages.some((p) => p.body.has_more === false)).toBe(true);
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('scrolling the log to the top loads the older messages too', async () => {
    const page = ui(tab.page);
    await openChat();
    await page.log.hover();
    for (let i = 0; i < 10 && !(await shownQuestions()).includes(question(1)); i++) {
      const before = await page.articles.count();
      await tab.page.mouse.wheel(0, -20_000);
      await poll(() => page.articles.count(), 'messages after scrolling to the top').toBeGreaterThan(before);
    }
    expect(await shownQuestions()).toEqual(QUESTIONS);
    expect(await page.articles.count(), 'every message, each once').toBe(2 * EXCHANGES);
    // The reader is not thrown to the bottom: the top of the log is still in view.
    const log = await page.log.evaluate((el) => ({ top: el.scrollTop, height: el.scrollHeight, view: el.clientHeight }));
    expect(log.top, 'scrollTop after loading older messages').toBeLessThan(log.height - log.view);
    expect(unexpectedProblems(tab)).toEqual([]);
  });
});
