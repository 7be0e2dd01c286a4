// Builds the chat page (web/) once per test run, with Vite's JS API, into a temporary folder of its
// own, and provides that folder to the tests as inject('webDir'). dist/web is never touched: a
// developer's running server may be serving it. The folder is removed when the run ends.
//
//   import { inject } from 'vitest';
//   const t = await startTestApp({}, { wiring: { pageDir: inject('webDir') } });
//
// A page that does not build fails the page tests (webBuildError says why; test/page/fixture.ts
// throws it), not the whole run: the API's own suites do not depend on the page.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder the page was built into for this run (index.html, favicon.svg, assets/). */
    webDir: string;
    /** Why the page did not build ('' when it did); webDir is then an empty folder. */
    webBuildError: string;
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-web-'));
  const started = performance.now();
  let error = '';
  try {
    await build({
      configFile: path.join(ROOT, 'web/vite.config.ts'),
      build: { outDir: dir, emptyOutDir: true },
      logLevel: 'warn',
    });
    console.log(`\n[web] page built in ${Math.round(performance.now() - started)} ms into ${dir}\n`);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    console.log(`\n[web] the page did not build; the page tests will fail:\n${error}\n`);
  }
  project.provide('webDir', dir);
  project.provide('webBuildError', error);
  return () => rmSync(dir, { recursive: true, force: true });
}
