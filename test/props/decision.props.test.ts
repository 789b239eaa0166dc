/**
 * The paired rule on any run of pairs, stalls included: the adaptive policy measures at most
 * roundCap pairs, sets aside at most one in five, stops with a keep exactly when the decision on
 * those samples keeps, and sets pairs aside by their distance, never by their sign.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BenchSample } from '../../src/domain/evaluation.js';
import { lookAt } from '../../src/plan/adaptive.js';
import { farOutPairs, setAsideCap } from '../../src/plan/far-out-pairs.js';
import { decideNoiseAware } from '../../src/plan/noise-decision.js';
import { roundCap } from '../../src/plan/bench-plan.js';
import { benchSchema, type BenchSpec } from '../../src/domain/spec.js';
import './arbitraries.js';

const spec: BenchSpec = benchSchema.parse({ run: 'node bench.js', metric: { name: 'duration_ms', goal: 'minimize' }, repeat: 6, max_repeat: 18, min_effect: '1%' });

/** One pair: the shared drift, each run's own noise, and sometimes a stall on one side. */
const pair = fc.record({
  drift: fc.double({ min: -0.1, max: 0.1, noNaN: true }),
  candidate: fc.double({ min: -0.04, max: 0.04, noNaN: true }),
  parent: fc.double({ min: -0.04, max: 0.04, noNaN: true }),
  stall: fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.double({ min: 1.5, max: 5, noNaN: true }) }),
  stalled: fc.constantFrom('candidate', 'parent'),
});
type Pair = typeof pair extends fc.Arbitrary<infer T> ? T : never;
const run = fc.record({ gain: fc.constantFrom(0, 0.01, 0.03, 0.08, -0.03), pairs: fc.array(pair, { minLength: 18, maxLength: 18 }) });

function samplesOf(gain: number, pairs: readonly Pair[]): BenchSample[] {
  return pairs.flatMap((p) => {
    const base = 100 * Math.exp(p.drift);
    const candidate = base * (1 - gain) * Math.exp(p.candidate) * (p.stalled === 'candidate' ? p.stall : 1);
    const parent = base * Math.exp(p.parent) * (p.stalled === 'parent' ? p.stall : 1);
    return [
      { side: 'candidate' as const, metric: candidate, secondary: {} },
      { side: 'parent' as const, metric: parent, secondary: {} },
    ];
  });
}

/** Pairs fed to the policy one by one, as the bench stage does, until it stops. */
function untilStop(gain: number, pairs: readonly Pair[]): BenchSample[] {
  for (let n = 1; ; n++) {
    const samples = samplesOf(gain, pairs.slice(0, n));
    if (lookAt(spec, samples).action === 'stop' || n >= pairs.length) return samples;
  }
}

describe('the paired rule with far-out pairs', () => {
  it('stops within roundCap, and with a keep exactly when the decision keeps', () => {
    const reasons = new Set<string>();
    let setAside = 0;
    fc.assert(
      fc.property(run, ({ gain, pairs }) => {
        const samples = untilStop(gain, pairs);
        const look = lookAt(spec, samples);
        expect(look.action).toBe('stop');
        expect(look.pairs).toBeLessThanOrEqual(roundCap(spec));
        expect(look.setAside).toBeLessThanOrEqual(setAsideCap(look.pairs, spec.repeat, roundCap(spec)));
        const decision = decideNoiseAware({ bench: spec, measurement: { metric: 0, samples, secondary: {} } });
        expect(decision.verdict === 'keep').toBe(look.reason === 'keep');
        if (decision.verdict === 'keep') expect(decision.stats?.['pairs']).toBeGreaterThanOrEqual(spec.repeat);
        expect(decision.stats?.['set_aside']).toBe(look.setAside);
        reasons.add(look.reason);
        setAside += look.setAside;
      }),
      { numRuns: 40 },
    );
    // The runs reach keeps and the other stops, with pairs set aside, so both ways are tested.
    expect(reasons).toContain('keep');
    expect(reasons.size).toBeGreaterThan(1);
    expect(setAside).toBeGreaterThan(0);
  });

  it('never keeps both a candidate and its mirror image (each pair with its sides swapped)', () => {
    fc.assert(
      fc.property(run, ({ gain, pairs }) => {
        const samples = samplesOf(gain, pairs);
        const mirror = samples.map((s) => ({ ...s, side: s.side === 'candidate' ? ('parent' as const) : ('candidate' as const) }));
        const decide = (s: BenchSample[]) => decideNoiseAware({ bench: spec, measurement: { metric: 0, samples: s, secondary: {} } });
        const one = decide(samples);
        const other = decide(mirror);
        expect(one.verdict === 'keep' && other.verdict === 'keep').toBe(false);
        expect(other.stats?.['set_aside_pairs']).toBe(one.stats?.['set_aside_pairs']);
      }),
      { numRuns: 60 },
    );
  });

  it('sets aside the same pairs after flipping the sign of every difference', () => {
    const diffs = fc.array(fc.oneof(fc.double({ min: -0.1, max: 0.1, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true })), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(diffs, fc.integer({ min: 0, max: 8 }), (d, cap) => {
        const aside = farOutPairs(d, cap);
        expect(aside.length).toBeLessThanOrEqual(cap);
        expect(farOutPairs(d.map((x) => -x), cap)).toEqual(aside);
      }),
      { numRuns: 300 },
    );
  });
});
