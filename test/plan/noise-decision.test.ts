import { describe, expect, it } from 'vitest';
import type { BenchSample, Measurement } from '../../src/domain/evaluation.js';
import { decideNoiseAware, lookConfidence, pairSamples } from '../../src/plan/noise-decision.js';
import { roundCap } from '../../src/plan/bench-plan.js';
import { benchSchema, type BenchSpec } from '../../src/domain/spec.js';

function bench(overrides: Record<string, unknown> = {}): BenchSpec {
  return benchSchema.parse({ run: 'node bench.js', metric: { name: 'ops_per_sec', goal: 'maximize' }, repeat: 12, max_repeat: 12, min_effect: '1%', ...overrides });
}

// Twelve parent runs with ±4% of drift, and per-pair noise of the candidate around its gain.
const PARENTS = [100, 98, 103, 99, 102, 101, 97, 104, 100, 99, 102, 98];
const JITTER = [0.01, -0.015, 0.02, 0.004, -0.01, 0.015, 0.005, -0.02, 0.012, -0.005, -0.012, 0.003];

/** A B A B … samples: the candidate of pair i measures `candidate(parent_i, i)`. */
function ab(candidate: (parent: number, i: number) => number, secondary: (i: number) => Record<string, number> = () => ({})): Measurement {
  const samples: BenchSample[] = PARENTS.flatMap((parent, i) => [
    { side: 'candidate' as const, metric: candidate(parent, i), secondary: secondary(i) },
    { side: 'parent' as const, metric: parent, secondary: {} },
  ]);
  return { metric: Number.NaN, samples, secondary: {} };
}

const gainOf = (gain: number) => ab((p, i) => p * (1 + gain + JITTER[i]!));

describe('decideNoiseAware', () => {
  it('keeps a candidate whose every pair is 5% better, with exact bounds and p = 1/2^12', () => {
    const decision = decideNoiseAware({ bench: bench(), measurement: ab((p) => p * 1.05) });
    expect(decision.verdict).toBe('keep');
    expect(decision.reason).toBe('ops_per_sec +5.0% [+5.0%, +5.0%] p<0.001 over 12 pairs');
    expect(decision.gain).toBeCloseTo(0.05, 12);
    expect(decision.stats).toMatchObject({ pairs: 12, confidence: 0.95, scale: 'log-ratio', p_value: 1 / 4096 });
    expect(decision.stats?.ci_low).toBeCloseTo(0.05, 12);
    expect(decision.delta).toBeCloseTo(5, 12);
  });

  it('keeps a noisy 4% gain and records the estimate inside its bounds', () => {
    const decision = decideNoiseAware({ bench: bench(), measurement: gainOf(0.04) });
    expect(decision.verdict).toBe('keep');
    const stats = decision.stats as Record<string, number>;
    expect(stats.ci_low).toBeGreaterThan(0.01);
    expect(stats.ci_low).toBeLessThan(stats.estimate!);
    expect(stats.estimate).toBeLessThan(stats.ci_high!);
    expect(stats.estimate).toBeGreaterThan(0.035);
    expect(stats.estimate).toBeLessThan(0.045);
    expect(decision.reason).toMatch(/^ops_per_sec \+4\.\d% \[\+\d\.\d+%, \+\d\.\d+%\] p<0\.001 over 12 pairs$/);
  });

  it('discards the same gain when the bound does not clear a 5% min_effect', () => {
    const decision = decideNoiseAware({ bench: bench({ min_effect: '5%' }), measurement: gainOf(0.04) });
    expect(decision.verdict).toBe('discard');
    expect(decision.reason).toMatch(/: gain not shown to exceed min_effect 5\.0%$/);
  });

  it('converts an absolute min_effect relative to the parent median', () => {
    // Ten times the usual values: the parents' median is 1000, so 50 units is 5% and 10 units is 1%.
    const tenfold = gainOf(0.04);
    for (const s of tenfold.samples) s.metric *= 10;
    const strict = decideNoiseAware({ bench: bench({ min_effect: 50 }), measurement: tenfold });
    expect(strict.verdict).toBe('discard');
    expect(strict.stats?.min_effect).toBeCloseTo(0.05, 12);
    expect(strict.reason).toMatch(/min_effect 50 \(5\.0%\)$/);
    expect(decideNoiseAware({ bench: bench({ min_effect: 10 }), measurement: tenfold }).verdict).toBe('keep');
  });

  it('discards a no-op whose pairs go both ways', () => {
    const decision = decideNoiseAware({ bench: bench(), measurement: gainOf(0) });
    expect(decision.verdict).toBe('discard');
    expect(decision.reason).toMatch(/^ops_per_sec [+-]0\.\d\d% \[-\d\.\d+%, \+\d\.\d+%\] p=0\.\d+ over 12 pairs: gain not shown to exceed min_effect 1\.0%$/);
    expect(decision.stats?.p_value).toBeGreaterThan(0.05);
  });

  it('calls a regression worse than its parent', () => {
    const decision = decideNoiseAware({ bench: bench(), measurement: gainOf(-0.06) });
    expect(decision.verdict).toBe('discard');
    expect(decision.reason).toMatch(/: worse than its parent$/);
    expect(decision.gain).toBeLessThan(-0.05);
  });

  it('counts a lower value as the improvement when the goal is minimize', () => {
    const measurement = ab((p) => p * 0.95);
    const decision = decideNoiseAware({ bench: bench({ metric: { name: 'duration_ms', goal: 'minimize' } }), measurement });
    expect(decision.verdict).toBe('keep');
    expect(decision.gain).toBeCloseTo(0.05, 12);
    expect(decision.delta).toBeCloseTo(-5, 12);
    const worse = decideNoiseAware({ bench: bench({ metric: { name: 'duration_ms', goal: 'minimize' } }), measurement: ab((p) => p * 1.05) });
    expect(worse.verdict).toBe('discard');
  });

  it('discards when any one candidate run breaks a constraint, naming the run', () => {
    const measurement = ab((p) => p * 1.05, (i) => ({ rss_mb: i === 6 ? 530 : 400 }));
    const decision = decideNoiseAware({ bench: bench({ constraints: [{ metric: 'rss_mb', max: 512 }] }), measurement });
    expect(decision.verdict).toBe('discard');
    expect(decision.reason).toBe('rss_mb 530 exceeds max 512 (candidate run 7 of 12)');
    const low = decideNoiseAware({ bench: bench({ constraints: [{ metric: 'rss_mb', min: 450 }] }), measurement });
    expect(low.reason).toBe('rss_mb 400 is below min 450 (candidate run 1 of 12)');
  });

  it('discards when a candidate run lacks a constraint metric', () => {
    const measurement = ab((p) => p * 1.05, (i): Record<string, number> => (i === 3 ? {} : { rss_mb: 400 }));
    const decision = decideNoiseAware({ bench: bench({ constraints: [{ metric: 'rss_mb', max: 512 }] }), measurement });
    expect(decision.reason).toBe('constraint metric "rss_mb" not found in the bench output (candidate run 4 of 12)');
  });

  it('refuses a relative comparison against a parent that measured 0', () => {
    const measurement = ab((p) => p * 1.05);
    measurement.samples[5] = { side: 'parent', metric: 0, secondary: {} };
    const decision = decideNoiseAware({ bench: bench(), measurement });
    expect(decision).toMatchObject({ verdict: 'discard', reason: 'the parent measured 0 in pair 3: a relative change is undefined' });
  });

  it('compares plain relative differences when values are not all positive', () => {
    // A score around −100 that rises by 5 units: +5% relative to |parent|.
    const measurement = ab((p, i) => -p + 5 + JITTER[i]! * 10);
    for (const s of measurement.samples) if (s.side === 'parent') s.metric = -s.metric;
    const decision = decideNoiseAware({ bench: bench(), measurement });
    expect(decision.verdict).toBe('keep');
    expect(decision.stats?.scale).toBe('relative');
    expect(decision.gain).toBeGreaterThan(0.04);
  });

  it('decides the same way every time from the same samples', () => {
    const spec = bench({ repeat: 5, max_repeat: 20 });
    expect(decideNoiseAware({ bench: spec, measurement: gainOf(0.02) })).toEqual(decideNoiseAware({ bench: spec, measurement: gainOf(0.02) }));
  });

  it('explains that there is nothing to compare without a complete pair', () => {
    const measurement: Measurement = { metric: 1, samples: [{ side: 'candidate', metric: 1, secondary: {} }], secondary: {} };
    expect(decideNoiseAware({ bench: bench(), measurement }).reason).toBe('no complete A/B pair was measured');
  });
});

describe('pairSamples', () => {
  it('pairs the k-th candidate run with the k-th parent run and leaves an unfinished pair out', () => {
    const samples: BenchSample[] = [
      { side: 'candidate', metric: 1, secondary: {} },
      { side: 'parent', metric: 2, secondary: {} },
      { side: 'candidate', metric: 3, secondary: {} },
    ];
    expect(pairSamples(samples)).toEqual([{ candidate: 1, parent: 2 }]);
  });
});

describe('lookConfidence', () => {
  it('is the spec confidence when the bench cannot extend', () => {
    expect(lookConfidence(bench({ repeat: 10, max_repeat: 10 }), 10)).toBeCloseTo(0.95, 6);
  });

  it('demands more of early looks and about 96.9% of the last when a candidate may be extended 3×', () => {
    // z = 1.86167 for looks after pairs 10..30 (scipy's multivariate normal); Φ(z) and Φ(z·√3).
    const spec = bench({ repeat: 10, max_repeat: 30 });
    expect(lookConfidence(spec, 30)).toBeCloseTo(0.968675, 5);
    expect(lookConfidence(spec, 10)).toBeCloseTo(0.999369, 5);
    expect(lookConfidence(spec, 20)).toBeGreaterThan(lookConfidence(spec, 30));
    expect(lookConfidence(spec, 10)).toBeGreaterThan(lookConfidence(spec, 20));
  });

  it('defaults the most pairs to 3× repeat, capped at 50, unless max_repeat says otherwise', () => {
    expect(roundCap(bench({ repeat: 10, max_repeat: undefined }))).toBe(30);
    expect(roundCap(bench({ repeat: 20, max_repeat: undefined }))).toBe(50);
    expect(roundCap(bench({ repeat: 60, max_repeat: undefined }))).toBe(60);
    expect(roundCap(bench({ repeat: 10, max_repeat: 12 }))).toBe(12);
  });
});
