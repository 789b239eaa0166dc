/** The run folder is readable and writable by its owner alone, new or resumed. */
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { specSchema } from '../../src/domain/spec.js';
import { RUN_JSON_VERSION, RunStore, type RunInfo } from '../../src/store/run-dir.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ratchet-run-mode-'));
  roots.push(root);
  return root;
}

function info(runId: string): RunInfo {
  return {
    schema: RUN_JSON_VERSION,
    runId,
    target: '/tmp/target',
    base: 'a'.repeat(40),
    baseRef: 'HEAD',
    createdAt: new Date().toISOString(),
    spec: specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'ops', goal: 'maximize' } } }),
    objective: 'x',
    specSource: 'test',
    versions: { ratchet: '0.0.0', node: process.version },
  };
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('the run folder', () => {
  it('is created 0700 even under a permissive umask, in an experiments root that already exists', async () => {
    const root = await tempRoot();
    await chmod(root, 0o755);
    const previous = process.umask(0);
    try {
      const store = await RunStore.create(root, info('mode-new'));
      expect(await mode(store.dir)).toBe(0o700);
    } finally {
      process.umask(previous);
    }
    // The root is the user's folder; only the run inside it is ratchet's to lock down.
    expect(await mode(root)).toBe(0o755);
  });

  it('is made 0700 again when a run left open by an older ratchet is resumed', async () => {
    const root = await tempRoot();
    const store = await RunStore.create(root, info('mode-old'));
    await chmod(store.dir, 0o755);

    const reopened = await RunStore.open(root, 'mode-old');

    expect(await mode(reopened.dir)).toBe(0o700);
  });

});
