import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/**/*.test.ts'],
    // web-build: the chat page, built once per run into a temporary folder (inject('webDir')).
    globalSetup: ['test/support/global-setup.ts', 'test/support/web-build.ts'],
    // Two cores: more workers than that only adds contention to the timing-free suites.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
