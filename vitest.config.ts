import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-redis.ts', 'test/helpers/global-state.ts'],
    env: {
      // Jobs on the test Redis are signed; runs and workers started by tests (in-process or as
      // CLI children, which inherit it) share this key the way machines share RATCHET_KEY.
      // Tests of a missing key pass an environment without it.
      RATCHET_KEY: 'ratchet-test-key-0123456789abcdef0123456789abcdef',
      // Runs started by tests are indexed here, never in the user's ~/.local/state/ratchet;
      // tests of the index set their own. Removed after the run (global-state.ts).
      RATCHET_STATE_DIR: join(tmpdir(), `ratchet-test-state-${process.pid}`),
    },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Git and Redis heavy tests; two cores on CI.
    maxWorkers: 2,
    silent: 'passed-only',
  },
});
