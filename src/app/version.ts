import { createRequire } from 'node:module';

// package.json sits two levels up from both src/app and dist/app.
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
export const RATCHET_VERSION: string = pkg.version;
