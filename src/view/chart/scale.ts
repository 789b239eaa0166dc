/** Linear scales and round tick values for the chart axes. */

export type Scale = (value: number) => number;

export function linearScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

/** About `count` round values (1, 2 or 5 times a power of ten apart) inside [min, max]. */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    // Rounding keeps 0.1 + 0.2 from printing as 0.30000000000000004.
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/** Whole-number ticks for experiment numbers. */
export function integerTicks(min: number, max: number, count = 10): number[] {
  const ticks = niceTicks(min, max, count).filter((t) => Number.isInteger(t));
  return ticks.length > 0 ? ticks : [Math.round((min + max) / 2)];
}

/**
 * The y range: every kept point and the baseline, and the discards unless they lie far off, so
 * that one terrible candidate does not flatten the steps that matter. Points beyond are drawn at
 * the edge.
 */
export function metricDomain(core: readonly number[], all: readonly number[]): [number, number] {
  if (all.length === 0) return [0, 1];
  const anchor = core.length > 0 ? core : all;
  let lo = Math.min(...anchor);
  let hi = Math.max(...anchor);
  const span = hi - lo || Math.abs(hi) * 0.1 || 1;
  lo = Math.max(lo - 1.5 * span, Math.min(...all));
  hi = Math.min(hi + 1.5 * span, Math.max(...all));
  const pad = (hi - lo || span) * 0.06;
  return [lo - pad, hi + pad];
}
