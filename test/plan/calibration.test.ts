import { describe, expect, it } from 'vitest';
import { calibrate, calibratedBench, calibrationSeeds, calibrationWarning, describeCalibration, roundSeed } from '../../src/plan/calibration.js';
import { benchSchema, type BenchSpec } from '../../src/domain/spec.js';

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
    expect(describeCalibration(seeded)).toBe('calibration: 5 baseline runs, spread 0.86%, set by the seed → paired A/B runs sharing a seed, repeat 10, min_effect 1.0%');
    const noisy = calibrate(bench(), seeds, [3.5, 3.52, 3.49, 3.51, 3.53]);
    expect(noisy).toMatchObject({ varies: true, seedDetermined: false, mode: 'paired', repeat: 10 });
    expect(describeCalibration(noisy)).toContain('noisy →');
  });

  it('keeps the pairs of auto within max_repeat', () => {
    expect(calibrate(bench({ max_repeat: 5 }), seeds, [1, 2, 3, 4, 1]).repeat).toBe(5);
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
    expect(calibratedBench(b, calibrate(b, seeds, [1, 2, 3, 4, 1]))).toMatchObject({ repeat: 10, min_effect: { kind: 'relative', value: 0.01 } });
    // A min_effect in the spec is the user's: the calibration sets no floor under it.
    const given = bench({ min_effect: 0 });
    expect(calibratedBench(given, calibrate(given, seeds, [1, 2, 3, 4, 1])).min_effect).toEqual({ kind: 'absolute', value: 0 });
    // A deterministic bench needs no floor.
    expect(calibrate(b, seeds, [1, 1, 1, 1, 1]).minEffect).toBeUndefined();
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
