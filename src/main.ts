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
// A default voice the engine cannot speak is a bad value like any other: every persona-less reply
// would go without audio. It stops the start when the engine answers. When the engine cannot be
// asked (Polly unreachable, or slow to answer), the API starts anyway and says so: an outage of
// Polly must not keep the chat down.
const DEFAULT_VOICE_CHECK_MS = 5_000;
const voiceCheck = product.app.voices.problemWith(config.defaultVoiceId);
const voiceProblem = await Promise.race([
  voiceCheck.catch((err: unknown) => {
    log.warn({ err }, 'could not check DEFAULT_POLLY_VOICE_ID against the speech engine; starting anyway');
    return null;
  }),
  new Promise<'slow'>((resolve) => setTimeout(resolve, DEFAULT_VOICE_CHECK_MS, 'slow').unref()),
]);
if (voiceProblem === 'slow') {
  log.warn('the speech engine did not list its voices in time; DEFAULT_POLLY_VOICE_ID is checked in the background');
  voiceCheck.then(
    (problem) => problem && log.error(`DEFAULT_POLLY_VOICE_ID: ${problem}`),
    () => {},
  );
} else if (voiceProblem) {
  log.fatal(`invalid configuration: DEFAULT_POLLY_VOICE_ID: ${voiceProblem}`);
  await app.close();
  process.exit(1);
}
if (config.auth.mode === 'none' && config.auth.exposed) {
  log.warn(
    `AUTH_MODE=none on HOST ${config.host}, which is not a loopback address: anyone who can reach this API is an admin, ` +
      'can read every conversation and can spend your LLM and Polly budget. Set AUTH_MODE=required and ADMIN_API_KEY.',
  );
}
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
    // close() closes the connections idle at that moment, but a keep-alive connection whose response
    // ends later (a streamed reply being drained) would stay open until keepAliveTimeout (72 s) and
    // hold the close that long. Closing idle connections as they appear ends the drain with the
    // last response.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    app.close().finally(() => clearInterval(sweep)).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

try {
  // Before listening, so that a restart takes up the reply audio a crash left unfinished at once.
  await product.startBackgroundWork();
  const address = await app.listen({ port: config.port, host: config.host });
  log.info(`API on ${address}, docs at ${address}/docs`);
} catch (err) {
  log.error({ err }, 'could not listen');
  await app.close();
  process.exit(1);
}
