// `npm run db:migrate`: applies the committed migrations to the configured database and exits.
// The API applies them at start too; this is for deploy pipelines that migrate first.
import { loadConfigOrExit } from '../config/env.ts';
import { databaseTargetFor, openDatabase } from '../db/database.ts';

const config = loadConfigOrExit();
const handle = openDatabase(databaseTargetFor(config));
try {
  await handle.migrate();
  console.log(`migrations applied (${handle.kind})`);
} catch (err) {
  console.error('migration failed:', err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await handle.close();
}
