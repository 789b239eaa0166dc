import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricOf, runNode, TARGETS } from './node-run.js';

const dir = join(TARGETS, 'tiny-lm');

describe('tiny-lm target', () => {
  it('passes its own tests', () => {
    const run = runNode(dir, ['test.js']);
    expect(run.stderr + run.stdout).toMatch(/# fail 0/);
    expect(run.status).toBe(0);
  });

  it('prints the same finite val_bpb twice for a short run, in both formats', () => {
    // TINY_LM_STEPS shortens training for tests only; the spec's runs use the full budget.
    const runs = [1, 2].map(() => runNode(dir, ['train.js'], { TINY_LM_STEPS: '20' }));
    for (const run of runs) expect(run.status, run.stderr).toBe(0);
    const [a, b] = runs.map((r) => metricOf(r.stdout, 'val_bpb'));
    expect(Number.isFinite(a)).toBe(true);
    // Twenty steps barely move a model from uniform (log2 of ~75 characters ≈ 6.2 bits).
    expect(a).toBeGreaterThan(3);
    expect(a).toBeLessThan(8);
    expect(b).toBe(a);
    expect(runs[0]!.stdout).toMatch(/^val_bpb: +\d+\.\d{6}$/m);
    expect(runs[0]!.stdout).toMatch(/^num_steps: +20$/m);
  });
});
