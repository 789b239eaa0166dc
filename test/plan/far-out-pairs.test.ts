import { describe, expect, it } from 'vitest';
import { FAR_OUT_SDS, farOutPairs, setAsideCap } from '../../src/plan/far-out-pairs.js';
import { mulberry32 } from '../../src/plan/stats.js';

/** Paired log-ratios of ordinary noise: roughly normal, SD about `sd`, around `centre`. */
function noise(seed: number, n: number, sd = 0.03, centre = 0): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => centre + (rng() + rng() + rng() - 1.5) * 2 * sd);
}

describe('farOutPairs', () => {
  it('sets aside a pair whose run stalled, on either side', () => {
    const diffs = noise(1, 20);
    diffs[4] = Math.log(1 / 3); // the candidate's run was 3× slower
    diffs[13] = Math.log(2.5); // the parent's run was 2.5× slower
    expect(farOutPairs(diffs, 4)).toEqual([4, 13]);
  });

  it('sets aside nothing in ordinary noise, whatever the gain', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      expect(farOutPairs(noise(seed, 30, 0.03, 0.03), 6)).toEqual([]);
      expect(farOutPairs(noise(seed, 30, 0.03, -0.05), 6)).toEqual([]);
    }
  });

  it('judges a pair by its distance from the others, not by its sign', () => {
    const diffs = noise(2, 25);
    diffs[3] = 0.9;
    diffs[17] = -0.6;
    const flipped = diffs.map((d) => -d);
    expect(farOutPairs(diffs, 5)).toEqual([3, 17]);
    expect(farOutPairs(flipped, 5)).toEqual(farOutPairs(diffs, 5));
  });

  it('sets aside only pairs beyond FAR_OUT_SDS robust SDs of the median', () => {
    // Median 0, median absolute deviation 0.01, so a robust SD of 0.0148: the limit is about 0.089.
    const diffs = [-0.02, -0.01, -0.01, 0, 0, 0, 0.01, 0.01, 0.02, 0.085, -0.095];
    const limit = FAR_OUT_SDS * 1.4826 * 0.01;
    expect(limit).toBeGreaterThan(0.085);
    expect(limit).toBeLessThan(0.095);
    expect(farOutPairs(diffs, 2)).toEqual([10]);
  });

  it('sets aside at most the cap, the furthest first', () => {
    const diffs = noise(3, 20);
    diffs[2] = 0.7;
    diffs[8] = -1.2;
    diffs[15] = 1.0;
    expect(farOutPairs(diffs, 2)).toEqual([8, 15]);
    expect(farOutPairs(diffs, 0)).toEqual([]);
  });

  it('leaves identical pairs alone though they differ in their last bits', () => {
    const diffs = Array.from({ length: 12 }, (_, i) => Math.log((100 + i) * 1.05) - Math.log(100 + i));
    expect(new Set(diffs).size).toBeGreaterThan(1);
    expect(farOutPairs(diffs, 2)).toEqual([]);
  });
});

describe('setAsideCap', () => {
  it('allows one pair in five', () => {
    expect([4, 5, 9, 10, 17, 30].map((m) => setAsideCap(m, 10, 30))).toEqual([0, 1, 1, 2, 3, 6]);
  });

  it('never leaves fewer than repeat pairs once roundCap(bench) pairs are measured', () => {
    expect(setAsideCap(12, 10, 12)).toBe(2);
    expect(setAsideCap(30, 10, 12)).toBe(2);
    expect(setAsideCap(10, 10, 10)).toBe(0);
    for (let most = 5; most <= 60; most++) {
      for (let repeat = 2; repeat <= most; repeat++) expect(most - setAsideCap(most, repeat, most)).toBeGreaterThanOrEqual(repeat);
    }
  });
});
