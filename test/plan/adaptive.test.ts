import { describe, expect, it } from 'vitest';
import type { BenchSample } from '../../src/domain/evaluation.js';
import { adaptivePolicy, lookAt } from '../../src/plan/adaptive.js';
import { decideNoiseAware } from '../../src/plan/noise-decision.js';
import { mulberry32 } from '../../src/plan/stats.js';
import { benchSchema, type BenchSpec } from '../../src/domain/spec.js';

function bench(repeat: number, maxRepeat: number, minEffect: string | number = '1%'): BenchSpec {
  return benchSchema.parse({ run: 'node bench.js', metric: { name: 'duration_ms', goal: 'minimize' }, repeat, max_repeat: maxRepeat, min_effect: minEffect });
}

/** A B A B … samples from per-pair ratios candidate/parent (below 1 is faster, so better). */
function samplesOf(ratios: readonly number[], parent = 100): BenchSample[] {
  return ratios.flatMap((ratio, i) => {
    const p = parent * (1 + 0.03 * Math.sin(i));
    return [
      { side: 'candidate' as const, metric: p * ratio, secondary: {} },
      { side: 'parent' as const, metric: p, secondary: {} },
    ];
  });
}

/** Feeds pairs to the policy one by one, as the bench stage does; returns the samples at the stop. */
function runPolicy(spec: BenchSpec, ratios: readonly number[]): BenchSample[] {
  const policy = adaptivePolicy(spec);
  for (let n = 1; n <= ratios.length; n++) {
    const samples = samplesOf(ratios.slice(0, n));
    if (policy(samples) === 'stop') return samples;
  }
  throw new Error('the policy never stopped');
}

const jitter = (seed: number, n: number, sd: number) => {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => (rng() + rng() + rng() - 1.5) * 2 * sd);
};

describe('adaptive repeats', () => {
  it('keeps measuring until there are enough pairs to say anything', () => {
    expect(lookAt(bench(10, 30), samplesOf([1.3, 1.3, 1.3, 1.3]))).toEqual({ action: 'continue', reason: 'too_few_pairs', pairs: 4, setAside: 0 });
  });

  it('stops a clear regression after five pairs, before repeat', () => {
    const ratios = [1.1, 1.12, 1.09, 1.11, 1.1];
    expect(lookAt(bench(10, 30), samplesOf(ratios))).toEqual({ action: 'stop', reason: 'futile', pairs: 5, setAside: 0 });
    expect(decideNoiseAware({ bench: bench(10, 30), measurement: { metric: 0, samples: samplesOf(ratios), secondary: {} } }).verdict).toBe('discard');
  });

  it('gives up on a no-op once its upper bound at the spec confidence is below min_effect', () => {
    // Pairs within ±1.5% of no change: 95% sure the gain is under 1%, though not 99.9% sure.
    const ratios = Array.from({ length: 8 }, (_, i) => 1 + (i % 2 === 0 ? 1 : -1) * 0.00375 * (1 + (Math.floor(i / 2) % 4)));
    expect(lookAt(bench(10, 30), samplesOf(ratios))).toEqual({ action: 'stop', reason: 'futile', pairs: 8, setAside: 0 });
  });

  it('never keeps before repeat pairs, however clear the gain', () => {
    // Without room to extend, nine clear pairs would pass the 95% rule: only `repeat` holds them back.
    const ratios = [0.9, 0.89, 0.91, 0.9, 0.88, 0.9, 0.9, 0.91, 0.89];
    expect(decideNoiseAware({ bench: bench(10, 10), measurement: { metric: 0, samples: samplesOf(ratios), secondary: {} } }).verdict).toBe('keep');
    expect(lookAt(bench(10, 10), samplesOf(ratios))).toMatchObject({ action: 'continue', reason: 'too_few_pairs' });
  });

  it('keeps a clear winner at repeat pairs when the bench may not extend', () => {
    const ratios = [0.9, 0.89, 0.91, 0.9, 0.88, 0.9, 0.9, 0.91, 0.89, 0.9];
    expect(lookAt(bench(10, 10), samplesOf(ratios))).toEqual({ action: 'stop', reason: 'keep', pairs: 10, setAside: 0 });
  });

  it('keeps a clear winner within two pairs of repeat when the bench may extend 3×', () => {
    // At 10 of 30 pairs the look asks 99.94%; ten wins of ten (p = 1/1024) fall just short.
    const ratios = Array.from({ length: 30 }, (_, i) => 0.9 + 0.01 * Math.cos(i));
    const samples = runPolicy(bench(10, 30), ratios);
    expect(samples.length / 2).toBeGreaterThan(10);
    expect(samples.length / 2).toBeLessThanOrEqual(12);
    expect(decideNoiseAware({ bench: bench(10, 30), measurement: { metric: 0, samples, secondary: {} } }).verdict).toBe('keep');
  });

  it('extends a borderline candidate pair by pair up to max_repeat', () => {
    // Pairs spread ±0.5–2.5% around a 1% gain: right at min_effect, never clearly beyond it.
    const ratios = Array.from({ length: 30 }, (_, i) => 0.99 + (i % 2 === 0 ? 1 : -1) * 0.005 * (1 + (Math.floor(i / 2) % 5)));
    expect(lookAt(bench(10, 30), samplesOf(ratios.slice(0, 10)))).toMatchObject({ action: 'continue', reason: 'borderline' });
    const samples = runPolicy(bench(10, 30), ratios);
    expect(lookAt(bench(10, 30), samples)).toEqual({ action: 'stop', reason: 'max_pairs', pairs: 30, setAside: 0 });
    expect(decideNoiseAware({ bench: bench(10, 30), measurement: { metric: 0, samples, secondary: {} } }).verdict).toBe('discard');
  });

  it('stops at once when the pairs cannot be compared', () => {
    const samples = samplesOf([0.9, 0.9, 0.9, 0.9, 0.9]);
    samples[3] = { side: 'parent', metric: 0, secondary: {} };
    expect(lookAt(bench(5, 15), samples)).toMatchObject({ action: 'stop', reason: 'incomparable' });
  });

  it('runs an unpaired bench (the baseline) for exactly repeat runs', () => {
    const runs = (n: number): BenchSample[] => Array.from({ length: n }, () => ({ side: 'candidate', metric: 100, secondary: {} }));
    expect(adaptivePolicy(bench(10, 30))(runs(9))).toBe('continue');
    expect(lookAt(bench(10, 30), runs(10))).toEqual({ action: 'stop', reason: 'unpaired', pairs: 0, setAside: 0 });
  });

  it('measures another pair in place of a far-out one before keeping', () => {
    // A clear winner whose 4th candidate run stalled (3× slower): 10 pairs measured, 9 weighed.
    const ratios = [0.9, 0.89, 0.91, 3, 0.88, 0.9, 0.9, 0.91, 0.89, 0.9, 0.91, 0.9];
    expect(lookAt(bench(10, 12), samplesOf(ratios.slice(0, 10)))).toEqual({ action: 'continue', reason: 'too_few_pairs', pairs: 10, setAside: 1 });
    expect(lookAt(bench(10, 12), samplesOf(ratios.slice(0, 11)))).toEqual({ action: 'stop', reason: 'keep', pairs: 11, setAside: 1 });
    const decision = decideNoiseAware({ bench: bench(10, 12), measurement: { metric: 0, samples: samplesOf(ratios.slice(0, 11)), secondary: {} } });
    expect(decision.verdict).toBe('keep');
    expect(decision.reason).toMatch(/ over 10 pairs \(1 far-out pair set aside\)$/);
    expect(decision.stats).toMatchObject({ pairs: 10, pairs_measured: 11, set_aside: 1, set_aside_pairs: '4' });
  });

  it('counts set-aside pairs towards max_repeat and sets aside at most one in five', () => {
    // A borderline candidate with a stall every third pair, alternating sides: 10 stalls in 30.
    const ratios = Array.from({ length: 40 }, (_, i) => (i % 3 === 2 ? (i % 2 === 0 ? 3 : 1 / 3) : 0.99 + (i % 2 === 0 ? 1 : -1) * 0.005 * (1 + (i % 5))));
    const samples = runPolicy(bench(10, 30), ratios);
    expect(lookAt(bench(10, 30), samples)).toEqual({ action: 'stop', reason: 'max_pairs', pairs: 30, setAside: 6 });
    expect(decideNoiseAware({ bench: bench(10, 30), measurement: { metric: 0, samples, secondary: {} } }).stats).toMatchObject({ pairs: 24, set_aside: 6 });
  });

  it('sets nothing aside when the bench may not extend', () => {
    const ratios = [0.9, 0.89, 0.91, 3, 0.88, 0.9, 0.9, 0.91, 0.89, 0.9];
    expect(lookAt(bench(10, 10), samplesOf(ratios))).toMatchObject({ pairs: 10, setAside: 0 });
  });

  it('does not keep a no-op whose parent runs stalled, and names the pairs it set aside', () => {
    // Stalls only on the parent's side flatter the candidate (weighed, they pull the estimate up
    // by about 0.5%); set aside, the no-op is judged on its ordinary pairs.
    const ratios = jitter(7, 30, 0.02).map((e, i) => ([2, 9, 15, 22].includes(i) ? 1 / 2.5 : 1 + e));
    const samples = runPolicy(bench(10, 30), ratios);
    const decision = decideNoiseAware({ bench: bench(10, 30), measurement: { metric: 0, samples, secondary: {} } });
    expect(decision.verdict).toBe('discard');
    expect(decision.stats).toMatchObject({ set_aside: 4, set_aside_pairs: '3, 10, 16, 23' });
    expect(Math.abs(decision.gain!)).toBeLessThan(0.005);
    expect(lookAt(bench(10, 30), samples)).toMatchObject({ reason: 'futile', setAside: 4 });
  });

  it('stops with a keep exactly when the decision on the same samples keeps', () => {
    const spec = bench(8, 24);
    const reasons = new Set<string>();
    for (const [seed, gain] of [[1, 0.04], [2, 0.02], [3, 0], [4, 0.03], [5, -0.01], [6, 0.015]] as const) {
      const ratios = jitter(seed, 24, 0.025).map((e) => 1 - gain + e);
      const samples = runPolicy(spec, ratios);
      const look = lookAt(spec, samples);
      const decision = decideNoiseAware({ bench: spec, measurement: { metric: 0, samples, secondary: {} } });
      expect(decision.verdict === 'keep', `seed ${seed}: ${look.reason}, ${decision.reason}`).toBe(look.reason === 'keep');
      reasons.add(look.reason);
    }
    // The sequences reach every kind of stop, so the agreement is tested both ways.
    expect([...reasons].sort()).toEqual(['futile', 'keep', 'max_pairs']);
  });
});
