/** Vitest global setup: removes the state folder the tests' runs were indexed in (vitest.config.ts). */
import { rm } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => Promise<void> {
  const dir = project.config.env['RATCHET_STATE_DIR'];
  return async () => {
    if (typeof dir === 'string' && dir.includes('ratchet-test-state-')) await rm(dir, { recursive: true, force: true });
  };
}
