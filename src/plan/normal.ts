/**
 * The standard normal distribution and the sequential boundary built on it: how much confidence
 * each look at a growing sample must reach so that all looks together keep the false-keep rate
 * at 1 − confidence.
 */
/** Standard normal CDF, via erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z - 1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
    t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(poly);
  return x >= 0 ? r : 2 - r;
}

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: readonly number[], x: number) => k.reduce((sum, coef) => sum * x + coef, 0);
  if (p < 0.02425 || p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(Math.min(p, 1 - p)));
    const x = poly(c, q) / (poly(d, q) * q + 1);
    return p < 0.5 ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/**
 * The level C that standard Brownian motion, looked at after every pair from `first` to `last`
 * (at times n/last), reaches at some look with probability alpha. The z-score after n of `last`
 * pairs is W(n/last)/√(n/last), so demanding z ≥ C·√(last/n) at each look keeps the chance of a
 * false positive over all the looks at alpha: an O'Brien–Fleming-shaped boundary, strict early.
 */
export function sequentialBoundary(alpha: number, first: number, last: number): number {
  const key = `${alpha}/${first}/${last}`;
  const known = boundaries.get(key);
  if (known !== undefined) return known;
  let level = normalQuantile(1 - alpha);
  if (first < last) {
    // One look needs z_alpha; watching continuously, z_alpha/2 (reflection principle). Bisect between.
    let lo = level;
    let hi = normalQuantile(1 - alpha / 2);
    for (let i = 0; i < 24; i++) {
      const mid = (lo + hi) / 2;
      if (crossingChance(mid, first, last) > alpha) lo = mid;
      else hi = mid;
    }
    level = (lo + hi) / 2;
  }
  boundaries.set(key, level);
  return level;
}

/** Memo of `sequentialBoundary`: a spec has one schedule, and the policy asks after every pair. */
const boundaries = new Map<string, number>();

/**
 * P(W(n/last) ≥ level for some n in first..last), by recursive numerical integration
 * (Armitage, McPherson & Rowe): carry the density of W below the level from look to look.
 * The error shrinks with the square of the grid step, so two grids extrapolate (Richardson).
 */
function crossingChance(level: number, first: number, last: number): number {
  return (4 * crossingOnGrid(level, first, last, 8) - crossingOnGrid(level, first, last, 4)) / 3;
}

/** `crossingChance` on a grid of `perStep` points per standard deviation of one pair's step. */
function crossingOnGrid(level: number, first: number, last: number, perStep: number): number {
  const step = Math.sqrt(1 / last);
  const from = -8;
  const points = Math.ceil(((level - from) / step) * perStep) + 1;
  const h = (level - from) / (points - 1);
  const sd1 = Math.sqrt(first / last);
  let density = Float64Array.from({ length: points }, (_, i) => gaussianDensity((from + i * h) / sd1) / sd1);
  const reach = Math.ceil((6 * step) / h);
  const kernel = Float64Array.from({ length: 2 * reach + 1 }, (_, j) => (gaussianDensity(((j - reach) * h) / step) / step) * h);
  for (let look = first + 1; look <= last; look++) {
    const next = new Float64Array(points);
    for (let i = 0; i < points; i++) {
      let sum = 0;
      for (let u = Math.max(0, i - reach); u <= Math.min(points - 1, i + reach); u++) {
        // Trapezoid weights: half at both ends of the grid.
        const end = u === 0 || u === points - 1 ? 0.5 : 1;
        sum += density[u]! * kernel[u - i + reach]! * end;
      }
      next[i] = sum;
    }
    density = next;
  }
  let below = 0;
  for (let i = 0; i < points; i++) below += density[i]! * h * (i === 0 || i === points - 1 ? 0.5 : 1);
  return 1 - below;
}

function gaussianDensity(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

