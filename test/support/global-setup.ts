// Says, once per run, which database the suite runs against, so a CI log shows whether the
// PostgreSQL run happened.
import type { TestProject } from 'vitest/node';

export default function setup(_project: TestProject) {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const { host, pathname } = new URL(url);
    console.log(`\n[database] PostgreSQL suite: RUNNING against ${host}${pathname} (TEST_DATABASE_URL)\n`);
  } else {
    console.log('\n[database] PostgreSQL suite: not run (TEST_DATABASE_URL unset); using embedded PGlite\n');
  }
}
