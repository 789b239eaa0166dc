import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-redis.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Git and Redis heavy tests; two cores on CI.
    maxWorkers: 2,
    silent: 'passed-only',
  },
});
