// The process: load the config, wire the product, listen, and shut down gracefully.
import { pino } from 'pino';
import { buildApp, loggerOptions } from './app.ts';
import { loadConfigOrExit } from './config/env.ts';
import type { FastifyInstance } from 'fastify';
import { wireProduct, type Product } from './wiring.ts';

const config = loadConfigOrExit();

const log = pino(loggerOptions(config.logLevel));
let product: Product;
let app: FastifyInstance;
try {
  product = await wireProduct(config, log);
  app = await buildApp(product.app, { logger: log });
} catch (err) {
  log.fatal({ err }, `could not start: ${(err as Error).message}`);
  process.exit(1);
}

const parts = product.describe();
log.info(parts, 'starting');
// A default voice the engine cannot speak would leave every persona-less reply without audio. Checked
// in the background: Polly may be briefly unreachable at start, and that must not block the API.
product.app.voices.problemWith(config.defaultVoiceId).then(
  (problem) => {
    if (problem) log.error(`DEFAULT_POLLY_VOICE_ID: ${problem}; replies without a persona voice will have no audio`);
  },
  (err: unknown) => log.warn({ err }, 'could not check DEFAULT_POLLY_VOICE_ID against the speech engine'),
);
if (config.llm.provider === 'offline') {
  log.warn('LLM_PROVIDER=offline: replies are deterministic text written without any AI; set GEMINI_API_KEY or LLM_PROVIDER=openai for real replies');
}

// SIGTERM (orchestrators) and SIGINT (Ctrl-C): stop accepting, let requests in flight finish, then
// close the database through the app's onClose hook. A second signal exits at once.
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

try {
  const address = await app.listen({ port: config.port, host: config.host });
  log.info(`API on ${address}, docs at ${address}/docs`);
} catch (err) {
  log.error({ err }, 'could not listen');
  await app.close();
  process.exit(1);
}
