// A reply whose audio cannot be loaded, in a real browser (offline LLM, eSpeak, local files): the
// page says "Audio not ready" and offers "Try audio again" instead of Play, which plays it once the
// audio is back.
import { renameSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axe, launchBrowser, openPage, waitForPlayback, type OpenedPage } from '../support/browser.ts';
import { api, playIn, startPageApp, stopIn, ui, unexpectedProblems, type PageApp } from './fixture.ts';

let app: PageApp;
let browser: Browser;
let tab: OpenedPage;
let audioFile: string;

beforeAll(async () => {
  [app, browser] = await Promise.all([startPageApp(), launchBrowser()]);
  const calls = api(app.t);
  const chat = await calls.createChat(null);
  const session = await calls.send(chat.session_id, 'Is my audio there?');
  const url = session.history.at(-1)!.audio_url!;
  // Local files: /audio/<key> is DATA_DIR/audio/<key>.
  audioFile = path.join(app.t.dataDir, new URL(url, app.base).pathname);
  renameSync(audioFile, `${audioFile}.away`);
  tab = await openPage(browser, app.base, { localStorage: { 'chatbox.autoplay': 'off' } });
});
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await app?.t.close();
});

describe.sequential('a reply without its audio', () => {
  it('says "Audio not ready" and offers "Try audio again", which plays it once it is there', async () => {
    const page = ui(tab.page);
    await page.chatButton('Default voice').click();
    const reply = page.log.getByRole('article', { name: 'Assistant' }).last();
    await playIn(reply).click();

    await reply.getByText('Audio not ready').waitFor({ state: 'visible' });
    const retry = reply.getByRole('button', { name: 'Try audio again' });
    await retry.waitFor({ state: 'visible' });
    expect(await playIn(reply).count(), 'Play next to "Audio not ready"').toBe(0);
    expect(await axe(tab.page), 'axe with "Audio not ready"').toEqual([]);

    renameSync(`${audioFile}.away`, audioFile);
    await retry.click();
    await waitForPlayback(tab.page);
    await stopIn(reply).click();
    await playIn(reply).waitFor({ state: 'visible' });
    expect(await reply.getByText('Audio not ready').count()).toBe(0);
    // The failed load of the missing file is the only console error.
    expect(unexpectedProblems(tab, [/status of 404/])).toEqual([]);
  });
});
