#!/usr/bin/env node
// The installed entry: runs the compiled CLI. `npm install` builds dist/ through `prepare`.
import('../dist/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/main.js')) {
    process.stderr.write('ratchet: dist/ is missing; run `npm run build` (or `npm install`) first.\n');
    process.exit(70);
  }
  throw error;
});
