// `npm run db:migrate`: applies the committed migrations to the configured database and exits.
// The API applies them at start too; this is for deploy pipelines that migrate first.
import { ConfigError, loadConfig } from '../config/env.ts';
import { databaseTargetFor, openDatabase } from './database.ts';

try {
  const config = loadConfig();
  const handle = openDatabase(databaseTargetFor(config));
  try {
    await handle.migrate();
    console.log(`migrations applied (${handle.kind})`);
  } finally {
    await handle.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exitCode = 1;
}
