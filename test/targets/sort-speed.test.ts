import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/gitdir.js';
import { metricOf, runNode, TARGETS } from './node-run.js';

const dir = join(TARGETS, 'sort-speed');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

describe('sort-speed target', () => {
  it('passes its own tests and prints ops_per_sec', () => {
    const test = runNode(dir, ['test.js']);
    expect(test.stdout).toMatch(/# fail 0/);
    expect(test.status).toBe(0);
    const bench = runNode(dir, ['bench.js']);
    expect(bench.status, bench.stderr).toBe(0);
    expect(metricOf(bench.stdout, 'ops_per_sec')).toBeGreaterThan(0);
  });

  it('fails its tests and refuses to bench a fast sort that is wrong or unstable', async () => {
    const tmp = await tempDir('sort-speed-');
    cleanups.push(tmp.cleanup);
    cpSync(dir, tmp.path, { recursive: true });
    const variants = {
      // Not a sort at all.
      wrong: 'export const INSERTION_THRESHOLD = 2;\nexport function sort(a) { return a.slice(); }\n',
      // Sorts, but unstable: ties come out reversed.
      unstable: 'export function sort(a, c = (x, y) => x - y) { return a.slice().reverse().sort(c); }\n',
    };
    for (const [name, source] of Object.entries(variants)) {
      writeFileSync(join(tmp.path, 'sort.js'), source);
      const test = runNode(tmp.path, ['test.js']);
      expect(test.status, name).not.toBe(0);
      if (name === 'wrong') {
        const bench = runNode(tmp.path, ['bench.js']);
        expect(bench.status).toBe(1);
        expect(metricOf(bench.stdout, 'ops_per_sec')).toBeUndefined();
        expect(bench.stderr).toMatch(/wrong result/);
      }
    }
  });
});
