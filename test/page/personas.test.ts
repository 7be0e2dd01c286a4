// Personas in a real browser against the real API (offline LLM, eSpeak voices, local files): made in
// the editor with a voice picked from the grouped, searchable Voice select, and the voice previewed
// in the page's media element.
import type { Browser, Response } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { axe, launchBrowser, mediaState, openPage, waitForPlayback, type OpenedPage } from '../support/browser.ts';
import { api, poll, startPageApp, ui, unexpectedProblems, type PageApp, type Voice } from './fixture.ts';

let app: PageApp;
let browser: Browser;
let tab: OpenedPage;
let voice: Voice;
/** Every response the page received, for the preview's redirect. */
const responses: Response[] = [];

beforeAll(async () => {
  [app, browser] = await Promise.all([startPageApp(), launchBrowser()]);
  const voices = await api(app.t).voices();
  // A voice that is not the default one, in a language with several voices (so search must narrow).
  voice = voices.find((v) => v.id === 'Amy') ?? voices.find((v) => v.language_code.startsWith('en'))!;
  tab = await openPage(browser, app.base);
  tab.page.on('response', (r) => void responses.push(r));
});
// Each test answers for the console errors, page errors and CSP violations of its own steps.
beforeEach(() => tab?.clearProblems());
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await app?.t.close();
});

describe.sequential('personas', () => {
  it('makes a persona with a voice picked in the grouped, searchable Voice select', async () => {
    const page = ui(tab.page);
    await page.newPersona.click();
    await page.name.fill('Narrator');
    await page.systemPrompt.fill('You narrate calmly, like a nature documentary.');

    // A native <select> grouped by language.
    await poll(() => page.voice.locator('option').count(), 'voices in the Voice select').toBeGreaterThan(10);
    const groups = await page.voice.locator('optgroup').evaluateAll((els) => els.map((el) => el.getAttribute('label')));
    expect(groups.length, 'optgroups in the Voice select').toBeGreaterThan(1);
    expect(groups).toContain(voice.language_name);
    const allOptions = await page.voice.locator('option').count();

    // Search narrows the options and keeps the one looked for.
    await page.searchVoices.fill(voice.name);
    await poll(() => page.voice.locator('option').count(), 'options after searching').toBeLessThan(allOptions);
    const values = await page.voice.locator('option').evaluateAll((els) => els.map((el) => el.getAttribute('value')));
    expect(values).toContain(voice.id);

    await page.voice.selectOption(voice.id);
    expect(await page.voice.inputValue()).toBe(voice.id);
    expect(await axe(tab.page), 'axe with the persona editor open').toEqual([]);

    await page.savePersona.click();
    await page.personas.getByRole('button', { name: 'Narrator', exact: true }).waitFor();
    const saved = (await api(app.t).personas()).filter((p) => p.name === 'Narrator');
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ voice_id: voice.id, system_prompt: 'You narrate calmly, like a nature documentary.' });
    // The persona of the next chat can now be this one.
    await poll(
      () => page.persona.locator('option').evaluateAll((els) => els.map((el) => el.textContent?.trim())),
      'options of the Persona select',
    ).toContain('Narrator');
    expect(unexpectedProblems(tab)).toEqual([]);
  });

  it('opens a saved persona in the editor from the Personas list', async () => {
    const page = ui(tab.page);
    await page.newPersona.click();
    await poll(() => page.name.inputValue(), 'Name after New persona').toBe('');
    await page.personas.getByRole('button', { name: 'Narrator', exact: true }).click();
    await poll(() => page.name.inputValue(), 'Name after choosing Narrator').toBe('Narrator');
    expect(await page.voice.inputValue()).toBe(voice.id);
    expect(await page.systemPrompt.inputValue()).toBe('You narrate calmly, like a nature documentary.');
  });

  it('previews the voice: GET /api/voices/{id}/preview redirects to an MP3 that the media element plays', async () => {
    const page = ui(tab.page);
    expect(await page.voice.inputValue()).toBe(voice.id);
    responses.length = 0;
    await page.previewVoice.click();

    const playing = await waitForPlayback(tab.page);
    expect(playing.count, '<audio> elements in the page').toBe(1);
    expect(playing.currentTime).toBeGreaterThan(0);

    // The route answered with a redirect to the stored MP3, which the media element followed.
    const previewPath = `/api/voices/${encodeURIComponent(voice.id)}/preview`;
    const preview = responses.find((r) => new URL(r.url()).pathname === previewPath);
    expect(preview, `a response to GET ${previewPath}`).toBeDefined();
    expect(preview!.status(), `GET ${previewPath}`).toBeGreaterThanOrEqual(300);
    expect(preview!.status()).toBeLessThan(400);
    const location = new URL(preview!.headers().location ?? '', app.base);
    expect(location.pathname).toMatch(/\.mp3$/);
    // HTMLMediaElement.currentSrc keeps the URL the page set (a redirect does not change it): either
    // the preview route or, if the page resolved the redirect itself, the MP3.
    expect(playing.currentSrc).toMatch(new RegExp(`(${previewPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|\\.mp3)$`));
    const mp3 = responses.find((r) => new URL(r.url()).pathname === location.pathname);
    expect(mp3, `the media element's request for ${location.pathname}`).toBeDefined();
    expect([200, 206]).toContain(mp3!.status());
    expect(mp3!.headers()['content-type']).toMatch(/^audio\/mpeg/);

    // Pressing the button again stops the preview.
    await tab.page.getByRole('button', { name: /preview/i }).click();
    await poll(async () => (await mediaState(tab.page))?.paused, 'paused after stopping the preview').toBe(true);
    expect(unexpectedProblems(tab)).toEqual([]);
  });
});
