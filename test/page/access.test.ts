// The page against an API that asks who the caller is (AUTH_MODE=required), in a real browser: a 401
// brings the API key form, a refused key an alert, the right key the caller's own personas and chats
// (kept in localStorage for the next visit), and never another user's chats.
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { axe, launchBrowser, openPage, type OpenedPage } from '../support/browser.ts';
import { api, poll, startPageApp, textOf, ui, unexpectedProblems, type PageApp } from './fixture.ts';

const ADMIN_KEY = `admin-${randomBytes(24).toString('hex')}`;
/** The 401s the page provokes on purpose show in the console as failed loads. */
const EXPECTED_401 = [/status of 401/];

let app: PageApp;
let browser: Browser;
let tab: OpenedPage;
let mine: string;
let theirs: string;

async function createKey(name: string): Promise<string> {
  const res = await api(app.t, ADMIN_KEY).call('POST', '/api/keys', { name }, 201);
  return res.json().key as string;
}

beforeAll(async () => {
  [app, browser] = await Promise.all([
    startPageApp({ AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_PER_MINUTE: '10000', MESSAGE_RATE_LIMIT_PER_MINUTE: '10000' }),
    launchBrowser(),
  ]);
  [mine, theirs] = await Promise.all([createKey('page user'), createKey('someone else')]);
  const persona = await api(app.t, mine).createPersona({ name: 'Mine', system_prompt: 'Mine alone.' });
  await api(app.t, mine).createChat(persona.id);
  const other = await api(app.t, theirs).createPersona({ name: 'Theirs' });
  await api(app.t, theirs).createChat(other.id);
  await api(app.t, theirs).createChat(null);
  tab = await openPage(browser, app.base);
});
// Each test answers for the console errors, page errors and CSP violations of its own steps.
beforeEach(() => tab?.clearProblems());
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await app?.t.close();
});

const storedKey = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('chatbox.apiKey'));

describe.sequential('an API that needs a key', () => {
  it('asks for an API key on a 401, with no serious axe violations', async () => {
    const page = ui(tab.page);
    await page.apiKey.waitFor({ state: 'visible' });
    await page.useKey.waitFor({ state: 'visible' });
    expect(await storedKey(tab.page)).toBeNull();
    expect(await axe(tab.page), 'axe on the key prompt').toEqual([]);
    expect(unexpectedProblems(tab, EXPECTED_401)).toEqual([]);
  });

  it('shows an alert when the key is refused', async () => {
    const page = ui(tab.page);
    await page.apiKey.fill(`cbx_${'x'.repeat(43)}`);
    await page.useKey.click();
    await page.alert.first().waitFor({ state: 'visible' });
    expect((await textOf(page.alert.first())).trim()).not.toBe('');
    // Still asking.
    await page.apiKey.waitFor({ state: 'visible' });
    expect(await axe(tab.page), 'axe on the key prompt with a refusal').toEqual([]);
  });

  it("takes the right key: the caller's personas and chats, none of another user's; the key is kept", async () => {
    const page = ui(tab.page);
    await page.apiKey.fill(mine);
    await page.useKey.click();
    await page.personas.getByRole('button', { name: 'Mine', exact: true }).waitFor();
    await page.apiKey.waitFor({ state: 'detached' });
    expect(await storedKey(tab.page)).toBe(mine);

    await page.chatButton('Mine').waitFor();
    expect(await page.chats.getByRole('listitem').count(), 'chats listed').toBe(1);
    expect(await page.chatButton('Theirs').count()).toBe(0);
    expect(await page.chatButton('Default voice').count()).toBe(0);
    expect(await page.personas.getByRole('button', { name: 'Theirs' }).count()).toBe(0);
    expect(await page.alert.count(), 'alerts once the key is taken').toBe(0);

    // The next visit needs no key.
    await tab.page.reload();
    await page.chatButton('Mine').waitFor();
    expect(await page.apiKey.count()).toBe(0);
    expect(unexpectedProblems(tab, EXPECTED_401)).toEqual([]);
  });

  it("sends with the key: a message in the caller's chat gets a reply", async () => {
    const page = ui(tab.page);
    await page.chatButton('Mine').click();
    await page.message.fill('Hello with a key');
    await poll(() => page.send.isEnabled(), 'Send enabled').toBe(true);
    await page.message.press('Enter');
    await poll(() => textOf(page.log.getByRole('article', { name: 'Mine' }).last()), 'the reply').toContain('Hello with a key');
    expect(unexpectedProblems(tab, EXPECTED_401)).toEqual([]);
  });
});
