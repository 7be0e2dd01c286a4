// The page with the keyboard alone: no click anywhere. Tab and Shift+Tab reach the controls, and
// the keys a person would press work them: a persona named, given a voice with the arrow keys and
// saved with Enter; a chat started from "Persona" and "New chat"; a message sent with Enter; its
// reply played with Space.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, waitForPlayback, type OpenedPage } from '../support/browser.ts';
import { api, playIn, poll, startPageApp, ui, unexpectedProblems, type PageApp } from './fixture.ts';

let app: PageApp;
let browser: Browser;
let tab: OpenedPage;

beforeAll(async () => {
  [app, browser] = await Promise.all([startPageApp(), launchBrowser()]);
  // Autoplay off: the reply plays because Space pressed Play, not by itself.
  tab = await openPage(browser, app.base, { localStorage: { 'chatbox.autoplay': 'off' } });
});
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await app?.t.close();
});

const isFocused = (target: Locator) =>
  target.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement);

/** Presses Tab (or Shift+Tab) until `target` has the focus; fails after 80 presses. */
async function tabTo(page: Page, target: Locator, key: 'Tab' | 'Shift+Tab' = 'Tab') {
  for (let i = 0; i < 80; i++) {
    if ((await target.count()) === 1 && (await isFocused(target))) return;
    await page.keyboard.press(key);
  }
  expect.fail(`${key} never reached ${target.toString()}`);
}

describe.sequential('the keyboard alone', () => {
  it('makes a persona: Name typed, a Voice chosen with the arrow keys, saved with Enter', async () => {
    const page = ui(tab.page);
    await page.savePersona.waitFor();
    await poll(() => page.voice.locator('option').count(), 'voices in the Voice select').toBeGreaterThan(1);

    await tabTo(tab.page, page.name);
    await tab.page.keyboard.type('Navigator');
    await tabTo(tab.page, page.voice);
    await tab.page.keyboard.press('ArrowDown');
    const voice = await page.voice.inputValue();
    expect(voice, 'the voice after ArrowDown on the Voice select').not.toBe('');
    await tabTo(tab.page, page.savePersona);
    await tab.page.keyboard.press('Enter');

    await poll(async () => (await api(app.t).personas()).map((p) => [p.name, p.voice_id]), 'personas in the API').toEqual([
      ['Navigator', voice],
    ]);
  });

  it('starts a chat with that persona from "Persona" and "New chat", and the composer has the focus', async () => {
    const page = ui(tab.page);
    await poll(() => page.persona.locator('option').allTextContents(), 'Persona options').toContain('Navigator');
    await tabTo(tab.page, page.persona, 'Shift+Tab');
    // A closed select takes type-ahead: the option whose label starts with what is typed.
    await tab.page.keyboard.type('Navigator');
    await tabTo(tab.page, page.newChat);
    await tab.page.keyboard.press('Enter');

    await poll(() => isFocused(page.message), 'the focus on "Message" after New chat').toBe(true);
    const chats = await api(app.t).chats();
    const personas = await api(app.t).personas();
    expect(chats.map((c) => c.persona_id)).toEqual([personas[0]!.id]);
  });

  it('sends with Enter and plays the reply with Space on its Play button', async () => {
    const page = ui(tab.page);
    await tab.page.keyboard.type('Which way to the harbour?');
    await tab.page.keyboard.press('Enter');
    const reply = page.articles.last();
    await playIn(reply).waitFor({ timeout: 30_000 });
    // The MP3 is stored by the end of the stream's done event; Play is then the stored file.
    await tabTo(tab.page, playIn(reply), 'Shift+Tab');
    await tab.page.keyboard.press('Space');
    const media = await waitForPlayback(tab.page);
    expect(media.currentTime).toBeGreaterThan(0);
    expect(unexpectedProblems(tab)).toEqual([]);
  });
});
