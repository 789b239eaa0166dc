import { describe, expect, it } from 'vitest';
import { calibrate, calibratedBench, calibratedHoldout, calibrateHoldout, calibrationSeeds, calibrationWarning, describeCalibration, roundSeed } from '../../src/plan/calibration.js';
import { benchSchema, holdoutSchema, type BenchSpec } from '../../src/domain/spec.js';

function bench(overrides: Record<string, unknown> = {}): BenchSpec {
  return benchSchema.parse({ run: 'node bench.js', metric: { name: 'val_bpb', goal: 'minimize' }, ...overrides });
}

const seeds = [11, 22, 33, 44, 11];

describe('calibration', () => {
  it('takes a bench whose runs are identical across seeds as deterministic: one run per candidate', () => {
    const c = calibrate(bench(), seeds, [3.5, 3.5, 3.5, 3.5, 3.5]);
    expect(c).toMatchObject({ runs: 5, varies: false, seedDetermined: false, mode: 'single', repeat: 1, spread: 0, explicit: false });
    expect(describeCalibration(c)).toBe('calibration: 5 baseline runs, identical → one run per candidate');
    expect(calibrationWarning(c)).toBeUndefined();
  });

  it('tells a bench set by its seed (the repeated seed agrees) from a noisy one, and pairs both', () => {
    const seeded = calibrate(bench(), seeds, [3.5, 3.52, 3.49, 3.51, 3.5]);
    expect(seeded).toMatchObject({ varies: true, seedDetermined: true, mode: 'paired', repeat: 10 });
    expect(seeded.spread).toBeCloseTo(0.03 / 3.5, 6);
    expect(describeCalibration(seeded)).toBe('calibration: 5 baseline runs, spread 0.86%, set by the seed → paired A/B runs sharing a seed, repeat 10, min_effect 1.0%, confidence 99.0%');
    const noisy = calibrate(bench(), seeds, [3.5, 3.52, 3.49, 3.51, 3.53]);
    expect(noisy).toMatchObject({ varies: true, seedDetermined: false, mode: 'paired', repeat: 10 });
    expect(describeCalibration(noisy)).toContain('noisy →');
  });

  it('keeps the pairs of auto within max_repeat, and 0.95 where fewer than 7 pairs could never reach 0.99', () => {
    const five = calibrate(bench({ max_repeat: 5 }), seeds, [1, 2, 3, 4, 1]);
    expect(five.repeat).toBe(5);
    // Five pairs that all agree give p = 1/32: above 0.01, so at 99% nothing could ever be kept.
    expect(five).not.toHaveProperty('confidence');
    expect(calibratedBench(bench({ max_repeat: 5 }), five).confidence).toBe(0.95);
    expect(calibrate(bench({ max_repeat: 7 }), seeds, [1, 2, 3, 4, 1]).confidence).toBe(0.99);
  });

  it('leaves an explicit repeat as written, and warns when repeat 1 meets a bench that varies', () => {
    const one = calibrate(bench({ repeat: 1 }), seeds, [3.5, 3.52, 3.49, 3.51, 3.5]);
    expect(one).toMatchObject({ explicit: true, mode: 'single', repeat: 1 });
    expect(calibrationWarning(one)).toMatch(/^bench.repeat is 1, but 5 baseline runs spread over 0.86% with the seed: one run per candidate keeps seed luck/);
    expect(calibrationWarning(calibrate(bench({ repeat: 1 }), seeds, [3.5, 3.5, 3.5, 3.5, 3.5]))).toBeUndefined();
    const many = calibrate(bench({ repeat: 6 }), seeds, [3.5, 3.5, 3.5, 3.5, 3.5]);
    expect(many).toMatchObject({ mode: 'paired', repeat: 6 });
    expect(calibrationWarning(many)).toBeUndefined();
  });

  it('resolves the bench everything else reads', () => {
    const b = bench();
    expect(b).toMatchObject({ repeat: 1, repeat_auto: true });
    expect(b).toMatchObject({ confidence: 0.95, confidence_auto: true });
    expect(calibratedBench(b, calibrate(b, seeds, [1, 2, 3, 4, 1]))).toMatchObject({ repeat: 10, min_effect: { kind: 'relative', value: 0.01 }, confidence: 0.99 });
    // A min_effect or confidence in the spec is the user's: the calibration sets none over it.
    const given = bench({ min_effect: 0, confidence: 0.9 });
    const resolved = calibratedBench(given, calibrate(given, seeds, [1, 2, 3, 4, 1]));
    expect(resolved.min_effect).toEqual({ kind: 'absolute', value: 0 });
    expect(resolved.confidence).toBe(0.9);
    // A deterministic bench needs neither a floor nor more confidence.
    expect(calibrate(b, seeds, [1, 1, 1, 1, 1])).not.toHaveProperty('minEffect');
    expect(calibrate(b, seeds, [1, 1, 1, 1, 1])).not.toHaveProperty('confidence');
  });

  it("calibrates the holdout's repeat alone, and warns of an explicit repeat: 1 on a noisy holdout", () => {
    const auto = holdoutSchema.parse({ dir: '../h', run: 'sh h.sh', metric: { name: 'cost', goal: 'minimize' } });
    expect(auto).toMatchObject({ repeat: 1, repeat_auto: true });
    const noisy = calibrateHoldout(auto, seeds, [5, 5.2, 4.9, 5.1, 5.05]);
    expect(noisy).toMatchObject({ mode: 'paired', repeat: 10, explicit: false });
    expect(noisy).not.toHaveProperty('minEffect');
    expect(noisy).not.toHaveProperty('confidence');
    expect(calibratedHoldout(auto, noisy)).toMatchObject({ repeat: 10, min_effect: { kind: 'absolute', value: 0 }, confidence: 0.95 });
    expect(calibrateHoldout(auto, seeds, [5, 5, 5, 5, 5])).toMatchObject({ mode: 'single', repeat: 1 });
    expect(describeCalibration(noisy, 'holdout')).toMatch(/^holdout calibration: 5 baseline runs, spread 5\.9%, noisy → paired A\/B runs sharing a seed, repeat 10$/);
    const one = calibrateHoldout(holdoutSchema.parse({ dir: '../h', run: 'sh h.sh', metric: { name: 'cost', goal: 'minimize' }, repeat: 1 }), seeds, [5, 5.2, 4.9, 5.1, 5.05]);
    expect(calibrationWarning(one, 'holdout')).toMatch(/^holdout\.repeat is 1, but 5 baseline holdout runs spread over 5\.9%: one run per candidate lets noise decide/);
  });

  it('derives seeds from the run: four distinct, then the first again; stable per round', () => {
    const s = calibrationSeeds('run-a');
    expect(s).toHaveLength(5);
    expect(new Set(s.slice(0, 4)).size).toBe(4);
    expect(s[4]).toBe(s[0]);
    expect(calibrationSeeds('run-a')).toEqual(s);
    expect(calibrationSeeds('run-b')).not.toEqual(s);
    expect(roundSeed('run-a', 'e0001', 1)).toBe(roundSeed('run-a', 'e0001', 1));
    expect(roundSeed('run-a', 'e0001', 1)).not.toBe(roundSeed('run-a', 'e0001', 2));
    for (const seed of s) expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31).toBe(true);
  });
});
