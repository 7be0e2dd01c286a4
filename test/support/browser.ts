// A real browser for the page tests: Debian's Chromium driven by playwright-core (no browser download,
// no Playwright test runner; vitest runs the tests).
//
//   const browser = await launchBrowser();                          // once per file, in beforeAll
//   const tab = await openPage(browser, base, { width: 375, colorScheme: 'dark' });
//   await tab.page.getByRole('button', { name: 'Send' }).click();
//   expect(await axe(tab.page), 'axe').toEqual([]);                  // serious/critical, readable
//   await screenshot(tab.page, 'chat-375-dark');                    // test-results/screenshots/
//   expect(tab.problems()).toEqual([]);                              // console errors, page errors, CSP
//   await tab.close(); await browser.close();                        // in afterAll
//
// User activation: Playwright runs everything it does in the page (evaluate, waitForFunction, even a
// locator's textContent) as a user gesture, so after the first read the document counts as
// activated and Chromium's autoplay policy no longer refuses play(). Whether the page *tries* to
// play without being asked is therefore checked by counting its play() calls (mediaLog), not by
// whether the policy let it.
//
// The tests' tsconfig has no DOM library: code that runs in the page reaches the DOM through
// `pageGlobals()`, a narrow typing of what the tests read there.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(ROOT, 'test-results', 'screenshots');

/** Generous, for a 2-core CI machine running two test files at once. */
export const WAIT_MS = 15_000;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sound on a CI machine or a developer's speakers; media elements still play and advance.
    // The autoplay policy stays Chromium's default (a user activation is needed), as for a person;
    // see "User activation" above for what the tests can and cannot prove about it.
    // (playwright-core already passes --no-sandbox and --disable-dev-shm-usage.)
    args: ['--mute-audio'],
  });
}

export interface OpenOptions {
  /** Viewport width in CSS pixels; default 1280. */
  width?: number;
  /** Viewport height; default 800 (900 at 1280, 740 below 800). */
  height?: number;
  colorScheme?: 'light' | 'dark';
  /** localStorage entries set before the page's own script runs (e.g. chatbox.apiKey). */
  localStorage?: Record<string, string>;
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught page errors and CSP violations so far, one readable line each. */
  problems(): string[];
  /** Forget the problems so far (e.g. after a step that provokes an expected 401 in the console). */
  clearProblems(): void;
  close(): Promise<void>;
}

/**
 * A fresh context (its own storage) with one page at `url`, watched for console errors, page errors
 * and Content-Security-Policy violations. The watcher is an init script, injected by the automation
 * protocol rather than through the page's HTML, so the page's CSP does not apply to it.
 */
export async function openPage(browser: Browser, url: string, opts: OpenOptions = {}): Promise<OpenedPage> {
  const width = opts.width ?? 1280;
  const context = await browser.newContext({
    viewport: { width, height: opts.height ?? (width >= 1280 ? 900 : 740) },
    colorScheme: opts.colorScheme ?? 'light',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(WAIT_MS);
  const found: string[] = [];
  await context.exposeBinding('__reportCspViolation', (_source, line: string) => void found.push(`CSP: ${line}`));
  await context.addInitScript(() => {
    const g = globalThis as unknown as {
      document: { addEventListener(type: string, fn: (e: Record<string, unknown>) => void): void };
      __reportCspViolation(line: string): void;
    };
    g.document.addEventListener('securitypolicyviolation', (e) => {
      g.__reportCspViolation(`${String(e.violatedDirective)} blocked ${String(e.blockedURI) || 'inline'} (${String(e.sourceFile)}:${String(e.lineNumber)})`);
    });
  });
  await context.addInitScript(watchMedia);
  if (opts.localStorage) {
    await context.addInitScript((entries: Record<string, string>) => {
      // Once per tab, so that what the page itself stores later (a new key, autoplay off) survives reloads.
      const g = globalThis as unknown as { sessionStorage: Storage; localStorage: Storage };
      if (g.sessionStorage.getItem('__seeded')) return;
      g.sessionStorage.setItem('__seeded', '1');
      for (const [k, v] of Object.entries(entries)) g.localStorage.setItem(k, v);
    }, opts.localStorage);
  }
  const page = await context.newPage();
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() === 'error') found.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => found.push(`page error: ${err.message}`));
  // A confirm() before a deletion is accepted, as a user would; an alert() is noted (the page shows
  // its errors in role="alert" elements, not in dialogs).
  page.on('dialog', (dialog) => {
    if (dialog.type() !== 'confirm') found.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.accept();
  });
  await page.goto(url);
  return {
    page,
    context,
    problems: () => [...found],
    clearProblems: () => void found.splice(0),
    close: () => context.close(),
  };
}

interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** What the tests read of the page's media element. */
export interface MediaState {
  currentSrc: string;
  currentTime: number;
  paused: boolean;
  ended: boolean;
  /** How many <audio> elements the document has (the page promises exactly one). */
  count: number;
}

/** The page's one <audio> element, as the tests see it (null when there is none). */
export async function mediaState(page: Page): Promise<MediaState | null> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as PageGlobals).document;
    const audio = doc.querySelector('audio') as unknown as MediaState | null;
    if (!audio) return null;
    const { currentSrc, currentTime, paused, ended } = audio;
    return { currentSrc, currentTime, paused, ended, count: doc.querySelectorAll('audio').length };
  });
}

/** Waits until the page's media element plays: not paused and currentTime past `after` seconds. */
export async function waitForPlayback(page: Page, after = 0, timeout = WAIT_MS): Promise<MediaState> {
  await page.waitForFunction(
    (t) => {
      const audio = (globalThis as unknown as PageGlobals).document.querySelector('audio') as unknown as MediaState | null;
      return !!audio && !audio.paused && audio.currentTime > t;
    },
    after,
    { timeout, polling: 50 },
  );
  return (await mediaState(page))!;
}

/** What the media watcher saw since the page loaded. */
export interface MediaLog {
  /** Every call of play() on a media element, with its src then: attempts, granted or not. */
  playCalls: string[];
  /** The media elements' playing, pause and ended events, in order. */
  events: Array<{ type: string; src: string; time: number }>;
}

/**
 * An init script (run before the page's own): counts play() calls and records media events, so a
 * test can tell that the page did not even try to play (which the autoplay policy could hide).
 */
function watchMedia() {
  type Media = { currentSrc: string; src: string; currentTime: number; play(...args: unknown[]): Promise<void> };
  const g = globalThis as unknown as {
    HTMLMediaElement: { prototype: Media };
    document: { addEventListener(type: string, fn: (e: { target: Media }) => void, capture: boolean): void };
    __media: MediaLog;
  };
  const log: MediaLog = { playCalls: [], events: [] };
  g.__media = log;
  const play = g.HTMLMediaElement.prototype.play;
  g.HTMLMediaElement.prototype.play = function (this: Media, ...args: unknown[]) {
    // src, not currentSrc: currentSrc follows a new src only once the resource selection runs, later.
    log.playCalls.push(this.src);
    return play.apply(this, args);
  };
  for (const type of ['playing', 'pause', 'ended']) {
    g.document.addEventListener(type, (e) => log.events.push({ type, src: e.target.currentSrc, time: e.target.currentTime }), true);
  }
}

export async function mediaLog(page: Page): Promise<MediaLog> {
  return page.evaluate(() => (globalThis as unknown as { __media: MediaLog }).__media);
}

/** The narrow typing of the page's globals used inside page.evaluate. */
export interface PageGlobals {
  document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): { length: number };
  };
  localStorage: Storage;
  [name: string]: unknown;
}
export interface PageElement {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
  textContent: string | null;
}

// --- axe-core -------------------------------------------------------------------------------

const AXE_SOURCE = readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

interface AxeNode {
  target: unknown[];
  html: string;
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}

/**
 * Runs axe-core in the page and returns its serious and critical violations, one readable string
 * each (rule, help, and the offending nodes), so that `expect(await axe(page)).toEqual([])` fails
 * with a message worth reading. axe is evaluated through the automation protocol (page.evaluate),
 * which the page's CSP does not govern; a <script> tag (addScriptTag) would be refused by it.
 */
export async function axe(page: Page, context: string = 'document'): Promise<string[]> {
  const loaded = await page.evaluate(() => typeof (globalThis as unknown as PageGlobals).axe === 'object');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (selector: string) => {
    const g = globalThis as unknown as PageGlobals & {
      axe: { run(context: unknown, options: object): Promise<{ violations: AxeViolation[] }> };
    };
    const target = selector === 'document' ? g.document : selector;
    const result = await g.axe.run(target, { resultTypes: ['violations'] });
    // Only what is serialisable: the nodes' DOM references are not.
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
    }));
  }, context);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map(formatViolation);
}

function formatViolation(v: AxeViolation): string {
  const nodes = v.nodes
    .slice(0, 5)
    .map((n) => `    - ${JSON.stringify(n.target)} ${n.html.slice(0, 160)}\n      ${(n.failureSummary ?? '').replace(/\n\s*/g, ' ')}`)
    .join('\n');
  const more = v.nodes.length > 5 ? `\n    (and ${v.nodes.length - 5} more)` : '';
  return `[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}${more}`;
}

// --- screenshots ----------------------------------------------------------------------------

/** Saves a full-page screenshot to test-results/screenshots/<name>.png (git-ignored); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
