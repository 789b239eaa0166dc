// Expected values come from definitions worked by hand, textbook tables (the exact signed-rank
// null distribution) and scipy 1.17 (`scipy.stats.wilcoxon`, `norm`, `multivariate_normal`).
import { describe, expect, it } from 'vitest';
import { bootstrapHodgesLehmann, bootstrapMedianBounds, bootstrapMedians, hodgesLehmann, logRatioToRelative, median, mulberry32, normalCdf, normalQuantile, pairedLogRatios, pairedRelativeDifferences, percentileBounds, quantile, seedFrom, sequentialBoundary, wilcoxonSignedRank } from '../../src/plan/stats.js';

/** P(W+ ≥ observed) by enumerating all 2^n sign patterns over midranks: an independent check. */
function bruteForceSignedRank(values: number[]): number {
  const nonZero = values.filter((v) => v !== 0);
  const abs = nonZero.map(Math.abs);
  const ranks = abs.map((a) => {
    const below = abs.filter((b) => b < a).length;
    const equal = abs.filter((b) => b === a).length;
    return below + (equal + 1) / 2;
  });
  const observed = ranks.reduce((sum, r, i) => sum + (nonZero[i]! > 0 ? r : 0), 0);
  let atLeast = 0;
  for (let mask = 0; mask < 2 ** ranks.length; mask++) {
    const w = ranks.reduce((sum, r, i) => sum + (mask & (1 << i) ? r : 0), 0);
    if (w >= observed - 1e-9) atLeast++;
  }
  return atLeast / 2 ** ranks.length;
}

describe('order statistics', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('interpolates quantiles between order statistics like R type 7', () => {
    const values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(quantile(values, 0.25)).toBeCloseTo(3.25, 12);
    expect(quantile(values, 0.9)).toBeCloseTo(9.1, 12);
    expect(quantile(values, 0)).toBe(1);
    expect(quantile(values, 1)).toBe(10);
  });
});

describe('mulberry32', () => {
  it('reproduces the reference implementation stream', () => {
    const rng = mulberry32(42);
    expect([rng(), rng(), rng()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  });

  it('gives the same stream for the same seed and another for another seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const first = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(first);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('seeds from the exact bits of the values', () => {
    expect(seedFrom([0.1, 0.2])).toBe(seedFrom([0.1, 0.2]));
    expect(seedFrom([0.1, 0.2])).not.toBe(seedFrom([0.1, 0.2 + Number.EPSILON]));
    expect(seedFrom([0.1, 0.2])).not.toBe(seedFrom([0.2, 0.1]));
  });
});

describe('paired differences', () => {
  it('signs the relative difference so that better in the goal direction is positive', () => {
    expect(pairedRelativeDifferences([{ candidate: 110, parent: 100 }], 'maximize')[0]).toBeCloseTo(0.1, 12);
    expect(pairedRelativeDifferences([{ candidate: 90, parent: 100 }], 'minimize')[0]).toBeCloseTo(0.1, 12);
    expect(pairedRelativeDifferences([{ candidate: 90, parent: 100 }], 'maximize')[0]).toBeCloseTo(-0.1, 12);
    // Relative to |parent|: on a negative metric, moving up is still +10% for maximize.
    expect(pairedRelativeDifferences([{ candidate: -90, parent: -100 }], 'maximize')[0]).toBeCloseTo(0.1, 12);
  });

  it('maps log ratios back to the relative improvement over the parent', () => {
    const pairs = [
      { candidate: 110, parent: 100 },
      { candidate: 80, parent: 100 },
    ];
    for (const goal of ['maximize', 'minimize'] as const) {
      const relative = pairedRelativeDifferences(pairs, goal);
      pairedLogRatios(pairs, goal).forEach((x, i) => expect(logRatioToRelative(x, goal)).toBeCloseTo(relative[i]!, 12));
    }
  });

  it('makes log ratios antisymmetric when candidate and parent swap', () => {
    const [x] = pairedLogRatios([{ candidate: 300, parent: 100 }], 'minimize');
    const [y] = pairedLogRatios([{ candidate: 100, parent: 300 }], 'minimize');
    expect(x).toBeCloseTo(-y!, 12);
  });
});

describe('bootstrap', () => {
  it('matches the exact bootstrap distribution of the median of three values', () => {
    // Resample medians of [1, 2, 3]: P(1) = P(3) = 7/27, P(2) = 13/27.
    const medians = bootstrapMedians([1, 2, 3], { resamples: 5000, seed: 1 });
    expect(medians.filter((m) => m === 1).length / 5000).toBeCloseTo(7 / 27, 1);
    expect(medians.filter((m) => m === 2).length / 5000).toBeCloseTo(13 / 27, 1);
    expect(bootstrapMedianBounds([1, 2, 3], 0.9)).toEqual({ low: 1, high: 3 });
    expect(bootstrapMedianBounds([1, 2, 3], 0.6)).toEqual({ low: 2, high: 2 });
  });

  it('is reproducible from the samples alone', () => {
    const values = [0.03, -0.01, 0.02, 0.05, 0.01, 0.04, -0.02, 0.03];
    expect(bootstrapMedianBounds(values, 0.95)).toEqual(bootstrapMedianBounds([...values], 0.95));
    expect(bootstrapHodgesLehmann(values)).toEqual(bootstrapHodgesLehmann([...values]));
  });

  it('widens the bounds as the confidence grows and collapses on a constant sample', () => {
    const values = [0.03, -0.01, 0.02, 0.05, 0.01, 0.04, -0.02, 0.03, 0.0, 0.06];
    const narrow = bootstrapMedianBounds(values, 0.8);
    const wide = bootstrapMedianBounds(values, 0.99);
    expect(wide.low).toBeLessThanOrEqual(narrow.low);
    expect(wide.high).toBeGreaterThanOrEqual(narrow.high);
    expect(bootstrapMedianBounds([5, 5, 5, 5], 0.95)).toEqual({ low: 5, high: 5 });
  });

  it('computes the Hodges–Lehmann estimate as the median of the Walsh averages', () => {
    // Walsh averages of [1, 2, 3, 10]: 1, 1.5, 2, 2, 2.5, 3, 5.5, 6, 6.5, 10.
    expect(hodgesLehmann([10, 1, 3, 2])).toBe(2.75);
    // How wild the wild value is does not matter: it only moves Walsh averages above the middle.
    expect(hodgesLehmann([1, 2, 3, 1000])).toBe(2.75);
    expect(hodgesLehmann([5])).toBe(5);
  });

  it('matches the exact bootstrap distribution of the Hodges–Lehmann estimate of two values', () => {
    // Resamples of [0, 1]: {0,0} → 0, {1,1} → 1 (1/4 each), {0,1} → 0.5 (1/2).
    const distribution = bootstrapHodgesLehmann([0, 1], { resamples: 4000, seed: 3 });
    expect(distribution.filter((v) => v === 0.5).length / 4000).toBeCloseTo(0.5, 1);
    expect(percentileBounds(distribution, 0.7)).toEqual({ low: 0.5, high: 0.5 });
    expect(percentileBounds(distribution, 0.9)).toEqual({ low: 0, high: 1 });
  });
});

describe('normal distribution', () => {
  it('agrees with tabulated values of the CDF and its inverse', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(normalQuantile(0.99965)).toBeCloseTo(3.389579, 5);
  });
});

describe('sequentialBoundary', () => {
  it('is the one-look quantile when there is one look', () => {
    expect(sequentialBoundary(0.05, 10, 10)).toBeCloseTo(1.644854, 5);
  });

  it('matches the multivariate normal probability of crossing at any look', () => {
    // Solved with scipy's multivariate_normal.cdf over W(n/last), cov = min(s, t).
    expect(sequentialBoundary(0.05, 2, 3)).toBeCloseTo(1.705587, 4);
    expect(sequentialBoundary(0.05, 1, 3)).toBeCloseTo(1.709606, 4);
    expect(sequentialBoundary(0.05, 5, 10)).toBeCloseTo(1.798053, 4);
    expect(sequentialBoundary(0.01, 5, 10)).toBeCloseTo(2.425183, 4);
    expect(sequentialBoundary(0.05, 10, 30)).toBeCloseTo(1.861667, 4);
  });

  it('rises with the number of looks but stays below watching continuously', () => {
    const few = sequentialBoundary(0.05, 20, 30);
    const many = sequentialBoundary(0.05, 10, 30);
    expect(many).toBeGreaterThan(few);
    // Continuously from t = 0: P(max W ≥ c) = 2(1 − Φ(c)) = 0.05 at c = 1.959964.
    expect(sequentialBoundary(0.05, 1, 50)).toBeLessThan(1.959964);
  });
});

describe('wilcoxonSignedRank', () => {
  it('gives 1/2^n when every value is positive', () => {
    expect(wilcoxonSignedRank([1, 2, 3, 4, 5]).pValue).toBe(1 / 32);
    expect(wilcoxonSignedRank([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).pValue).toBe(1 / 64);
  });

  it('matches the exact null distribution in the tables for n = 8 and n = 10', () => {
    // n = 8, W− = 5 (ranks 1 and 4 negative): P(W+ ≥ 31) = 10/256.
    const eight = wilcoxonSignedRank([-1, -4, 3, 2, 5, 6, 7, 8]);
    expect(eight).toMatchObject({ statistic: 31, n: 8, method: 'exact' });
    expect(eight.pValue).toBe(10 / 256);
    // n = 10, W− = 10: P(W+ ≥ 45) = 43/1024 = 0.0420, the table's critical value at 5%.
    expect(wilcoxonSignedRank([-1, -2, -3, -4, 5, 6, 7, 8, 9, 10]).pValue).toBe(43 / 1024);
  });

  it('drops zeros and gives ties their midranks in the exact distribution', () => {
    const values = [1.5, -0.5, 2, 3, 3, -1, 4, 0, 5, 6];
    const result = wilcoxonSignedRank(values);
    expect(result).toMatchObject({ statistic: 42, n: 9, method: 'exact' });
    expect(result.pValue).toBe(0.009765625);
    expect(result.pValue).toBeCloseTo(bruteForceSignedRank(values), 12);
  });

  it('agrees with enumerating every sign pattern on tied samples of 5 to 12', () => {
    const rng = mulberry32(11);
    for (let n = 5; n <= 12; n++) {
      const values = Array.from({ length: n }, () => Math.round((rng() - 0.35) * 8) / 2);
      expect(wilcoxonSignedRank(values).pValue).toBeCloseTo(bruteForceSignedRank(values), 12);
    }
  });

  it('uses the normal approximation with continuity correction above 25', () => {
    // Ranks 25..30 negative: W+ = 300, z = (300 − 232.5 − 0.5)/√2363.75.
    const values = Array.from({ length: 30 }, (_, i) => (i + 1 >= 25 ? -(i + 1) : i + 1));
    const result = wilcoxonSignedRank(values);
    expect(result).toMatchObject({ statistic: 300, n: 30, method: 'normal' });
    expect(result.pValue).toBeCloseTo(0.08408949, 6);
  });

  it('corrects the normal variance for ties', () => {
    const values = [-1, 1, 2, -2, 2, 3, -4, 5, 6, -7, 8, 9, -10, 11, 12, -13, 14, 15, -16, 17, 18, -19, 20, 21, -22, 23, 24, -25, 26, 27, -28, 29];
    const result = wilcoxonSignedRank(values);
    expect(result.statistic).toBe(351.5);
    expect(result.pValue).toBeCloseTo(0.05187008, 6);
  });

  it('stays close to the exact p-value when forced to approximate at n = 20', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? -(i + 1) : i + 1));
    const exact = wilcoxonSignedRank(values).pValue;
    const approx = wilcoxonSignedRank(values, { exactMaxN: 10 });
    expect(approx.method).toBe('normal');
    expect(Math.abs(approx.pValue - exact)).toBeLessThan(0.003);
  });

  it('returns p = 1 when every difference is zero', () => {
    expect(wilcoxonSignedRank([0, 0, 0])).toEqual({ statistic: 0, n: 0, pValue: 1, method: 'exact' });
  });
});
