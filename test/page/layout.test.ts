// The page's screens in a real browser: the empty start, the sidebar at 375 px (behind "Chats and
// personas") and at 1280 px (always there), axe-core on each, and screenshots of a chat with a reply
// at both widths in light and dark (test-results/screenshots/, for a person to look at).
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axe, launchBrowser, openPage, screenshot, type OpenedPage } from '../support/browser.ts';
import { api, playIn, poll, startPageApp, ui, unexpectedProblems, type PageApp } from './fixture.ts';

let app: PageApp;
let browser: Browser;
const tabs: OpenedPage[] = [];

beforeAll(async () => {
  [app, browser] = await Promise.all([startPageApp(), launchBrowser()]);
});
afterAll(async () => {
  for (const tab of tabs) await tab.close().catch(() => {});
  await browser?.close();
  await app?.t.close();
});

async function open(opts: Parameters<typeof openPage>[2] = {}): Promise<OpenedPage> {
  const tab = await openPage(browser, app.base, opts);
  tabs.push(tab);
  return tab;
}

describe.sequential('layout', () => {
  it('shows an empty start (no personas, no chats) with no serious axe violations', async () => {
    const tab = await open();
    const page = ui(tab.page);
    await page.newChat.waitFor();
    await page.persona.waitFor();
    await page.savePersona.waitFor();
    // No chats: the list is absent or empty (the page may say so in words instead).
    expect(await page.chats.getByRole('listitem').count()).toBe(0);
    expect(await axe(tab.page), 'axe on the empty start').toEqual([]);
    await screenshot(tab.page, 'empty-1280-light');
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('at 1280 px shows the sidebar, without the "Chats and personas" button', async () => {
    const tab = await open({ width: 1280 });
    const page = ui(tab.page);
    // With no chat yet, the sidebar is known by its controls: New chat and the persona editor.
    await page.newChat.waitFor({ state: 'visible' });
    await page.savePersona.waitFor({ state: 'visible' });
    expect(await page.sidebarToggle.isVisible(), '"Chats and personas" at 1280 px').toBe(false);
  });

  it('at 375 px hides the sidebar behind "Chats and personas", which opens it (aria-expanded), with no serious axe violations', async () => {
    const tab = await open({ width: 375 });
    const page = ui(tab.page);
    await page.sidebarToggle.waitFor({ state: 'visible' });
    expect(await page.sidebarToggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.newChat.isVisible(), 'New chat before the sidebar is opened').toBe(false);
    expect(await page.savePersona.isVisible(), 'Save persona before the sidebar is opened').toBe(false);

    await page.sidebarToggle.click();
    await poll(() => page.sidebarToggle.getAttribute('aria-expanded'), 'aria-expanded after a click').toBe('true');
    await page.newChat.waitFor({ state: 'visible' });
    await page.persona.waitFor({ state: 'visible' });
    expect(await axe(tab.page), 'axe at 375 px with the sidebar open').toEqual([]);
    await screenshot(tab.page, 'sidebar-375-light');

    await page.sidebarToggle.click();
    await poll(() => page.sidebarToggle.getAttribute('aria-expanded'), 'aria-expanded after a second click').toBe('false');
    await page.newChat.waitFor({ state: 'hidden' });
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('screenshots a chat with a reply at 375 and 1280 px, light and dark', async () => {
    const calls = api(app.t);
    const persona = await calls.createPersona({ name: 'Captain', system_prompt: 'You are a cheerful pirate captain.' });
    const chat = await calls.createChat(persona.id);
    await calls.send(chat.session_id, 'Ahoy! What is the **plan** for today?\n\n- find the map\n- dig');

    for (const width of [375, 1280]) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const tab = await open({ width, colorScheme });
        const page = ui(tab.page);
        if (width < 800) {
          await page.sidebarToggle.click();
        }
        await page.chatButton('Captain').click();
        const reply = page.log.getByRole('article', { name: 'Captain' });
        await playIn(reply).waitFor({ state: 'visible' });
        // At 375 px the sidebar gives way to the conversation once a chat is chosen.
        if (width < 800) {
          await poll(() => page.message.isVisible(), 'the Message box after choosing a chat at 375 px').toBe(true);
        }
        await screenshot(tab.page, `chat-${width}-${colorScheme}`);
        expect(unexpectedProblems(tab), `${width} px ${colorScheme}`).toEqual([]);
        await tab.close();
      }
    }
  });
});
