import { describe, expect, it } from 'vitest';
import { benchPlan, holdoutBench, measuresParent, roundCap } from '../../src/plan/bench-plan.js';
import { benchSchema, holdoutSchema, type BenchSpec, type HoldoutSpec } from '../../src/domain/spec.js';

function bench(overrides: Record<string, unknown> = {}): BenchSpec {
  return benchSchema.parse({ run: 'node bench.js', metric: { name: 'ops_per_sec', goal: 'maximize' }, ...overrides });
}

function holdout(overrides: Record<string, unknown> = {}): HoldoutSpec {
  return holdoutSchema.parse({ run: 'node holdout.js {holdout}', dir: '/tmp/holdout', metric: { name: 'acc', goal: 'maximize' }, ...overrides });
}

describe('benchPlan', () => {
  it('pairs a candidate with its parent only when repeat is above 1 and a parent is measured', () => {
    expect(benchPlan(bench({ repeat: 5 }), { parent: true }).paired).toBe(true);
    expect(benchPlan(bench({ repeat: 5 }), { parent: false }).paired).toBe(false);
    expect(benchPlan(bench({ repeat: 1 }), { parent: true }).paired).toBe(false);
  });

  it('lets only a paired bench be extended, up to the round cap', () => {
    expect(benchPlan(bench({ repeat: 5, max_repeat: 15 }), { parent: true })).toEqual({ paired: true, rounds: 5, maxRounds: 15 });
    expect(benchPlan(bench({ repeat: 5 }), { parent: true }).maxRounds).toBe(15);
    expect(benchPlan(bench({ repeat: 5, max_repeat: 15 }), { parent: false })).toEqual({ paired: false, rounds: 5, maxRounds: 5 });
  });

  it('runs one round per calibration seed, whatever repeat says', () => {
    expect(benchPlan(bench({ repeat: 10 }), { parent: false, seeds: [1, 2, 3, 4, 1] })).toEqual({ paired: false, rounds: 5, maxRounds: 5 });
  });

  it('caps rounds at max_repeat, else 3 × repeat up to 50, never below repeat', () => {
    expect(roundCap({ repeat: 10, max_repeat: undefined })).toBe(30);
    expect(roundCap({ repeat: 20, max_repeat: undefined })).toBe(50);
    expect(roundCap({ repeat: 60, max_repeat: undefined })).toBe(60);
    expect(roundCap({ repeat: 10, max_repeat: 12 })).toBe(12);
  });
});

describe('holdoutBench', () => {
  it('never extends the holdout beyond its repeat', () => {
    expect(benchPlan(holdoutBench(holdout({ repeat: 4 })), { parent: true })).toEqual({ paired: true, rounds: 4, maxRounds: 4 });
  });
});

describe('measuresParent', () => {
  it('wants the parent worktree when the bench or the holdout is paired', () => {
    expect(measuresParent({ bench: bench({ repeat: 1 }), holdout: undefined })).toBe(false);
    expect(measuresParent({ bench: bench({ repeat: 3 }), holdout: undefined })).toBe(true);
    expect(measuresParent({ bench: bench({ repeat: 1 }), holdout: holdout({ repeat: 3 }) })).toBe(true);
    expect(measuresParent({ bench: bench({ repeat: 1 }), holdout: holdout({ repeat: 1 }) })).toBe(false);
  });
});
