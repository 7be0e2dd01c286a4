// Scenario 11: the web page, in Chromium (Debian's, driven by playwright-core). On the peers of
// scenario 10 (the Gemini peer streams a 1,500-character reply at 600 characters a second; Polly
// takes its usual latency), each sample types a new message into the page and presses Send, with
// Autoplay on, once on `/` (the streaming POST) and once on `/?stream=off` (the plain POST), in two
// chats whose voices differ so that both are cache misses.
//
// Measured in the page, with performance.now(): from the Send button's click to the first `playing`
// event of the page's media element on a source that was not playing at the click: playback has
// begun, so the first audio is being heard. (`timeupdate` would be late: Chromium fires it only
// every 250 ms.) Also the page's JavaScript and CSS as the
// browser gets them: the built assets, gzipped at level 9 (the .gz files the API serves).
//
// Alone: `node --import tsx bench/scenarios/page.ts [--samples 5]` builds the page, starts the
// peers and an API process on a fresh embedded database, and prints its figures as JSON.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { startApi, type ApiProcess } from '../api-process.ts';
import { createSession, timedRequest } from '../http.ts';
import { startPeers, type Peers } from '../peers.ts';
import { proseReply } from '../replies.ts';
import { summarize, type Stat } from '../stats.ts';
import { CHROMIUM, launchBrowser } from '../../test/support/browser.ts';
import { STREAM_RATE, STREAM_REPLY_CHARS } from './streaming.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE_DIR = path.join(ROOT, 'dist/web');
/** The plain chat's voice; the streamed chat speaks with the peers' default voice. */
const PLAIN_VOICE = 'Matthew';

export interface PageResult {
  replyChars: number;
  rate: typeof STREAM_RATE;
  samples: number;
  /** Send to first audio heard, streaming POST. */
  streamedMs: Stat;
  /** Send to first audio heard, plain POST (`/?stream=off`). */
  plainMs: Stat;
  /** Median plain / median streamed. */
  speedup: number;
  assets: { jsBytes: number; jsGzipBytes: number; cssGzipBytes: number; htmlGzipBytes: number };
}

/** `npm run build:web`, through Vite's API, so that the figures are of the source as it is. */
export async function buildPage(): Promise<void> {
  await build({ configFile: path.join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' });
}

function assetSizes(): PageResult['assets'] {
  const assets = path.join(PAGE_DIR, 'assets');
  const files = readdirSync(assets);
  const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;
  let jsBytes = 0;
  let jsGzipBytes = 0;
  let cssGzipBytes = 0;
  for (const f of files) {
    const file = path.join(assets, f);
    if (f.endsWith('.js')) {
      jsBytes += readFileSync(file).length;
      jsGzipBytes += gz(file);
    } else if (f.endsWith('.css')) cssGzipBytes += gz(file);
  }
  return { jsBytes, jsGzipBytes, cssGzipBytes, htmlGzipBytes: gz(path.join(PAGE_DIR, 'index.html')) };
}

// Installed before the page's own script: the click on Send and the first audio heard after it.
const PROBE = `
  window.__bench = { sendAt: null, heardAt: null, srcAtSend: null };
  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button') : null;
    if (!button || button.textContent.trim() !== 'Send') return;
    const audio = document.querySelector('audio');
    window.__bench = { sendAt: performance.now(), heardAt: null, srcAtSend: audio ? audio.currentSrc : null };
  }, true);
  // Media events do not bubble; a capturing listener on the document still sees them.
  document.addEventListener('playing', (e) => {
    const b = window.__bench;
    if (b.sendAt === null || b.heardAt !== null || e.target.currentSrc === b.srcAtSend) return;
    b.heardAt = performance.now();
  }, true);
`;

/** Sends one message in the open chat and returns Send → first audio heard, in ms. */
async function sample(page: Page, message: string): Promise<number> {
  // Whatever the last reply is still saying stops first, so that its sound is not taken for the next.
  // (A string: this project's TypeScript has no DOM types. evaluate() is not subject to the CSP.)
  await page.evaluate(`document.querySelector('audio')?.pause()`);
  await page.getByRole('textbox', { name: 'Message' }).fill(message);
  await page.getByRole('button', { name: 'Send' }).click();
  // waitForFunction takes functions here, not strings: the page's CSP forbids eval, which a polled
  // string would need.
  const heard = await page.waitForFunction(
    () => {
      const b = (globalThis as unknown as { __bench: { sendAt: number | null; heardAt: number | null } }).__bench;
      return b.heardAt !== null && b.sendAt !== null ? b.heardAt - b.sendAt : null;
    },
    null,
    { timeout: 60_000, polling: 10 },
  );
  const ms = (await heard.jsonValue()) as number;
  // The reply is complete (stored, with its Play button) before the next sample.
  await page.waitForFunction(
    () => {
      const doc = (globalThis as unknown as { document: { querySelector(selector: string): unknown } }).document;
      return !doc.querySelector('.message.streaming') && !doc.querySelector('[aria-busy="true"]');
    },
    null,
    { timeout: 60_000 },
  );
  return ms;
}

async function openChat(page: Page, url: string, label: string) {
  await page.goto(url);
  await page.getByRole('button', { name: new RegExp(`^${label},`) }).click();
  await page.getByRole('textbox', { name: 'Message' }).waitFor();
}

export async function pageScenario(opts: { api: ApiProcess; peers: Peers; samples: number; log(line: string): void }): Promise<PageResult> {
  const { api, peers } = opts;
  const streamedPersona = await timedRequest<{ id: string }>(api.url, 'POST', '/api/personas', { name: 'Page streamed', voice_id: 'Joanna' });
  const plainPersona = await timedRequest<{ id: string }>(api.url, 'POST', '/api/personas', { name: 'Page plain', voice_id: PLAIN_VOICE });
  await createSession(api.url, streamedPersona.body.id);
  await createSession(api.url, plainPersona.body.id);

  const browser = await launchBrowser();
  peers.gemini.setStreamRate(STREAM_RATE);
  const streamed: number[] = [];
  const plain: number[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(PROBE);
    const streamPage = await context.newPage();
    const plainPage = await context.newPage();
    await openChat(streamPage, `${api.url}/`, 'Page streamed');
    await openChat(plainPage, `${api.url}/?stream=off`, 'Page plain');
    // One warm-up each, not measured (the first reply compiles code paths in the API and the page).
    for (let i = -1; i < opts.samples; i++) {
      const message = `page sample ${i} ${Date.now()}`;
      peers.replies.set(message, proseReply(`Here is the answer on the page number ${i} that you asked for`, STREAM_REPLY_CHARS));
      const s = await sample(streamPage, message);
      const p = await sample(plainPage, message);
      if (i >= 0) {
        streamed.push(s);
        plain.push(p);
      }
    }
    await context.close();
  } finally {
    peers.gemini.setStreamRate(undefined);
    await browser.close();
  }
  const streamedMs = summarize(streamed);
  const plainMs = summarize(plain);
  return {
    replyChars: STREAM_REPLY_CHARS,
    rate: STREAM_RATE,
    samples: opts.samples,
    streamedMs,
    plainMs,
    speedup: plainMs.median / streamedMs.median,
    assets: assetSizes(),
  };
}

export const chromiumAvailable = () => existsSync(CHROMIUM);

// Run alone: build the page, the peers, a fresh embedded database, an API process, the scenario.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { samples: { type: 'string' } } });
  await buildPage();
  const peers = await startPeers({ baseMs: 150, perCharMs: 0.05 });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-page-'));
  const api = await startApi({ ...peers.apiEnv, DATA_DIR: dataDir });
  try {
    const result = await pageScenario({ api, peers, samples: Number(values.samples ?? 5), log: console.error });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await api.stop();
    await peers.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
