/**
 * Small, pure, deterministic statistics for noise-aware decisions: order statistics, a seeded
 * PRNG, paired differences, percentile bootstraps (median, Hodges–Lehmann), the normal
 * distribution (normal.ts), a boundary for repeated looks and the Wilcoxon signed-rank test. Nothing here
 * reads a clock or Math.random, so a decision is reproducible from its samples.
 */
import type { Goal } from '../domain/spec.js';
import { normalCdf } from './normal.js';

// The normal distribution and the sequential boundary live in normal.ts; re-exported here so
// callers find all the statistics in one place.
export { normalCdf, normalQuantile, sequentialBoundary } from './normal.js';

/** The `q` quantile of already sorted values, linear interpolation between order statistics (R type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const below = sorted[lo]!;
  const above = sorted[Math.min(lo + 1, n - 1)]!;
  return below + (h - lo) * (above - below);
}

export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(sortedCopy(values), q);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** A PRNG returning floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: 32 bits of state, fast, good enough for resampling; the same seed gives the same stream. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from the exact bits of the values (FNV-1a), so the same samples give the same bootstrap. */
export function seedFrom(values: readonly number[]): number {
  const bytes = new Uint8Array(new Float64Array(values).buffer);
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

/** One A/B pair: the candidate's value and its parent's, measured back to back. */
export interface Pair {
  candidate: number;
  parent: number;
}

/** Per pair, the improvement of the candidate relative to its parent; positive is better in the goal's direction. */
export function pairedRelativeDifferences(pairs: readonly Pair[], goal: Goal): number[] {
  return pairs.map(({ candidate, parent }) => {
    const gain = goal === 'minimize' ? parent - candidate : candidate - parent;
    return gain / Math.abs(parent);
  });
}

/**
 * Per pair, the log of the ratio, signed so positive is better. Unlike relative differences it is
 * symmetric: swapping candidate and parent flips the sign, so a no-op has a distribution
 * symmetric about 0 (what the signed-rank test assumes) even with 3× outliers. Needs values > 0.
 */
export function pairedLogRatios(pairs: readonly Pair[], goal: Goal): number[] {
  return pairs.map(({ candidate, parent }) => (goal === 'minimize' ? Math.log(parent / candidate) : Math.log(candidate / parent)));
}

/** A log ratio from `pairedLogRatios` as the improvement relative to the parent (0.032 is 3.2% better). */
export function logRatioToRelative(x: number, goal: Goal): number {
  // maximize: candidate/parent − 1; minimize: (parent − candidate)/parent = 1 − candidate/parent.
  return goal === 'minimize' ? -Math.expm1(-x) : Math.expm1(x);
}

export interface BootstrapOptions {
  /** Resamples; 4000 puts the Monte Carlo error of a 5% quantile well below the sampling error. */
  resamples?: number;
  /** Defaults to `seedFrom(values)`. */
  seed?: number;
}

/** One-sided bounds: `low` and `high` each hold with probability `confidence` on their own. */
export interface Bounds {
  low: number;
  high: number;
}

/** Percentile bounds from a sorted bootstrap distribution: its (1 − confidence) and confidence quantiles. */
export function percentileBounds(distribution: readonly number[], confidence: number): Bounds {
  return { low: quantileSorted(distribution, 1 - confidence), high: quantileSorted(distribution, confidence) };
}

/**
 * Resamples with replacement as counts over the sorted values (`counts[j]` copies of the j-th
 * smallest), so a statistic of a resample is one walk over the sorted values, with no sort.
 */
function resampleCounts(n: number, options: BootstrapOptions, seedValues: readonly number[], each: (counts: Uint32Array) => number): number[] {
  const rng = mulberry32(options.seed ?? seedFrom(seedValues));
  const resamples = options.resamples ?? 4000;
  const out = new Float64Array(resamples);
  const counts = new Uint32Array(n);
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.floor(rng() * n)]!++;
    out[b] = each(counts);
  }
  return Array.from(out.sort());
}

/** The bootstrap distribution of the median, sorted. */
export function bootstrapMedians(values: readonly number[], options: BootstrapOptions = {}): number[] {
  const n = values.length;
  if (n === 0) return [];
  const sorted = sortedCopy(values);
  const lowerMid = Math.floor((n - 1) / 2);
  const upperMid = Math.floor(n / 2);
  return resampleCounts(n, options, values, (counts) => {
    let seen = 0;
    let lower = Number.NaN;
    for (let j = 0; j < n; j++) {
      seen += counts[j]!;
      if (Number.isNaN(lower) && seen > lowerMid) lower = sorted[j]!;
      if (seen > upperMid) return (lower + sorted[j]!) / 2;
    }
    return Number.NaN;
  });
}

/** Percentile bootstrap bounds of the median at `confidence`. */
export function bootstrapMedianBounds(values: readonly number[], confidence: number, options: BootstrapOptions = {}): Bounds {
  if (values.length === 0) return { low: Number.NaN, high: Number.NaN };
  return percentileBounds(bootstrapMedians(values, options), confidence);
}

/** The Walsh averages (x_i + x_j) / 2 for i ≤ j, sorted, with the indices into the sorted values. */
function walshAverages(sorted: readonly number[]): { value: Float64Array; a: Uint32Array; b: Uint32Array } {
  const n = sorted.length;
  const entries: [number, number, number][] = [];
  for (let a = 0; a < n; a++) for (let b = a; b < n; b++) entries.push([(sorted[a]! + sorted[b]!) / 2, a, b]);
  entries.sort((x, y) => x[0] - y[0]);
  return { value: Float64Array.from(entries, (e) => e[0]), a: Uint32Array.from(entries, (e) => e[1]), b: Uint32Array.from(entries, (e) => e[2]) };
}

/**
 * The Hodges–Lehmann estimate: the median of the Walsh averages, the location the signed-rank
 * test is about. As robust as the median to a few wild values, and on normal noise as precise as
 * the mean (95% efficiency against the median's 64%), so it needs fewer pairs.
 */
export function hodgesLehmann(values: readonly number[]): number {
  const walsh = walshAverages(sortedCopy(values));
  return median(Array.from(walsh.value));
}

/** The bootstrap distribution of the Hodges–Lehmann estimate, sorted. */
export function bootstrapHodgesLehmann(values: readonly number[], options: BootstrapOptions = {}): number[] {
  const n = values.length;
  if (n === 0) return [];
  const walsh = walshAverages(sortedCopy(values));
  const total = (n * (n + 1)) / 2;
  const lowerMid = Math.floor((total - 1) / 2);
  const upperMid = Math.floor(total / 2);
  const { value, a, b } = walsh;
  const weight = (counts: Uint32Array, k: number): number => {
    // A resample holds the Walsh average of sorted values i < j counts[i]·counts[j] times, and
    // that of i with itself counts[i]·(counts[i] + 1)/2 times.
    const ci = counts[a[k]!]!;
    return a[k] === b[k] ? (ci * (ci + 1)) / 2 : ci * counts[b[k]!]!;
  };
  return resampleCounts(n, options, values, (counts) => {
    let k = 0;
    let seen = weight(counts, 0);
    while (seen <= lowerMid) seen += weight(counts, ++k);
    const lower = value[k]!;
    while (seen <= upperMid) seen += weight(counts, ++k);
    return (lower + value[k]!) / 2;
  });
}

export interface WilcoxonResult {
  /** W+, the sum of the (mid)ranks of the positive values. */
  statistic: number;
  /** Values ranked: zeros are dropped (Wilcoxon's method). */
  n: number;
  /** One-sided p-value against the alternative "located above 0". */
  pValue: number;
  method: 'exact' | 'normal';
}

export interface WilcoxonOptions {
  /** Largest n for the exact null distribution; above it the normal approximation. */
  exactMaxN?: number;
}

/**
 * The Wilcoxon signed-rank test, one-sided (H1: the values are located above 0). Zeros are
 * dropped; ties get midranks. Up to `exactMaxN` the p-value is exact under the null of random
 * signs given the observed midranks; above it, the normal approximation with tie and continuity
 * corrections.
 */
export function wilcoxonSignedRank(values: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  // Rounding before ranking makes values equal up to float noise tie instead of ranking at random.
  const nonZero = values.map((v) => Number(v.toPrecision(12))).filter((v) => v !== 0);
  const n = nonZero.length;
  if (n === 0) return { statistic: 0, n: 0, pValue: 1, method: 'exact' };
  const order = nonZero.map((v) => ({ abs: Math.abs(v), positive: v > 0 })).sort((a, b) => a.abs - b.abs);
  // Doubled midranks are integers: a tie group at 1-based positions i..j has midrank (i + j) / 2.
  const doubledRanks = new Array<number>(n);
  const tieSizes: number[] = [];
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && order[end + 1]!.abs === order[start]!.abs) end++;
    for (let k = start; k <= end; k++) doubledRanks[k] = start + 1 + (end + 1);
    tieSizes.push(end - start + 1);
    start = end + 1;
  }
  let doubledStatistic = 0;
  order.forEach((o, k) => {
    if (o.positive) doubledStatistic += doubledRanks[k]!;
  });
  const statistic = doubledStatistic / 2;
  if (n <= (options.exactMaxN ?? 25)) {
    return { statistic, n, pValue: exactUpperTail(doubledRanks, doubledStatistic), method: 'exact' };
  }
  const mean = (n * (n + 1)) / 4;
  const tieTerm = tieSizes.reduce((sum, t) => sum + (t * t * t - t), 0) / 48;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm;
  if (variance <= 0) return { statistic, n, pValue: statistic > mean ? 0 : 1, method: 'normal' };
  const z = (statistic - mean - 0.5) / Math.sqrt(variance);
  return { statistic, n, pValue: normalCdf(-z), method: 'normal' };
}

/** P(W+ ≥ observed) when each rank's sign is a fair coin: a subset-sum count over the doubled ranks. */
function exactUpperTail(doubledRanks: readonly number[], doubledObserved: number): number {
  const total = doubledRanks.reduce((a, b) => a + b, 0);
  const ways = new Float64Array(total + 1);
  ways[0] = 1;
  let reach = 0;
  for (const r of doubledRanks) {
    for (let s = reach; s >= 0; s--) ways[s + r]! += ways[s]!;
    reach += r;
  }
  let tail = 0;
  for (let s = doubledObserved; s <= total; s++) tail += ways[s]!;
  return tail / 2 ** doubledRanks.length;
}
