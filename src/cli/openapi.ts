// `npm run openapi`: prints the API's OpenAPI document as JSON on stdout, without a server, for
// linting (`npm run openapi:lint`) and for frontend teams generating clients.
//
// It builds the real app the way the tests do, with the offline defaults and a temporary DATA_DIR:
// local audio (so /audio/{key} is in the document), MAX_MESSAGE_CHARS at its default. The
// environment is not read, so the document is the same on every machine; a deployment's own
// document (other limits, S3 audio) is served at /docs/json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../app.ts';
import { parseConfig } from '../config/env.ts';
import { wireProduct } from '../wiring.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-openapi-'));
// stdout carries the document only: anything worth logging goes to stderr.
const log = pino({ level: 'warn' }, pino.destination(2));
try {
  const config = parseConfig({ DATA_DIR: dataDir, LLM_PROVIDER: 'offline' });
  const product = await wireProduct(config, log);
  // The app's onClose closes the product (database, speech workers).
  const app = await buildApp(product.app, { logger: log }).catch(async (err: unknown) => {
    await product.close();
    throw err;
  });
  try {
    await app.ready();
    process.stdout.write(JSON.stringify(app.swagger(), null, 2) + '\n');
  } finally {
    await app.close();
  }
} catch (err) {
  console.error('could not build the OpenAPI document:', err);
  process.exitCode = 1;
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
