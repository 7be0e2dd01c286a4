// The page's route over plain HTTP (no browser): GET / with its strict Content-Security-Policy, the
// hashed assets cached forever and served precompressed, JSON 404s for unknown assets, no CSP on
// the JSON API, and a 503 that says what to do when the page was never built.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { webDir as builtWebDir } from './fixture.ts';

let webDir: string;
let t: TestApp;
let base: string;

beforeAll(async () => {
  webDir = builtWebDir();
  t = await startTestApp({}, { wiring: { pageDir: webDir } });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t?.close());

/** The policy as directive → its sources. */
function directives(csp: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

/** The hashed script that the built index.html loads, e.g. /assets/index-AbC123.js. */
function scriptAsset(): string {
  const html = readFileSync(path.join(webDir, 'index.html'), 'utf8');
  const src = /<script[^>]*\bsrc="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(src, `no /assets/*.js script in the built index.html:\n${html}`).toBeDefined();
  return src!;
}

/** A GET through node:http, which (unlike fetch) hands back the body's bytes as sent, not decompressed. */
async function rawGet(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /', () => {
  it('is the page, as text/html, with a strict Content-Security-Policy', async () => {
    const res = await rawGet(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body.toString()).toContain('<div id="app">');

    const csp = res.headers['content-security-policy'];
    expect(typeof csp, 'a Content-Security-Policy header').toBe('string');
    const policy = directives(csp as string);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('default-src')).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(csp).not.toMatch(/unsafe-eval/);
    // The page checks its HTML on every load (its assets are hashed and never change).
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves the hashed script immutable, precompressed by the Accept-Encoding, identical once decompressed', async () => {
    const asset = scriptAsset();
    const plain = await rawGet(`${base}${asset}`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toMatch(/javascript/);
    expect(plain.headers['cache-control']).toMatch(/immutable/);
    expect(plain.headers['cache-control']).toMatch(/max-age=31536000/);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(readFileSync(path.join(webDir, asset)))).toBe(true);

    const br = await rawGet(`${base}${asset}`, { 'accept-encoding': 'br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toMatch(/javascript/);
    expect(br.headers['cache-control']).toMatch(/immutable/);
    expect(br.body.length).toBeLessThan(plain.body.length);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);

    const gz = await rawGet(`${base}${asset}`, { 'accept-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-type']).toMatch(/javascript/);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);

    // The assets carry the page's policy too.
    expect(plain.headers['content-security-policy']).toMatch(/script-src 'self'/);
  });

  it('answers an unknown asset with a JSON 404', async () => {
    const res = await rawGet(`${base}/assets/no-such-file-1234.js`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body.toString())).toMatchObject({ statusCode: 404 });
  });

  it('puts no Content-Security-Policy on the JSON API', async () => {
    for (const url of ['/api/personas', '/api/voices', '/api/chat']) {
      const res = await rawGet(`${base}${url}`);
      expect(res.status, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      expect(res.headers['content-security-policy'], url).toBeUndefined();
    }
  });
});

describe('a page directory without index.html', () => {
  it('answers GET / with a 503 that says to run npm run build:web', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'chat-web-empty-'));
    const other = await startTestApp({}, { wiring: { pageDir: empty } });
    try {
      const res = await other.app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json().message).toMatch(/npm run build:web/);
    } finally {
      await other.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
