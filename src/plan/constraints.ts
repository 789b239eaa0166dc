/** Secondary-metric constraints (`bench.constraints`) and the metric formatting their reasons use. */
import type { BenchSpec } from '../domain/spec.js';

export function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** A fraction as a percentage, two decimals below 1%, one above: `+3.2%`, `+0.07%`; unsigned on request. */
export function formatPercent(fraction: number, signed = true): string {
  const p = fraction * 100;
  const text = `${p.toFixed(Math.abs(p) < 1 ? 2 : 1)}%`;
  return signed && p >= 0 ? `+${text}` : text;
}

/** The first constraint `secondary` breaks, as one reason (`where` names the run), if any. */
export function constraintViolation(bench: BenchSpec, secondary: Record<string, number>, where?: string): string | undefined {
  const at = where === undefined ? '' : ` ${where}`;
  for (const c of bench.constraints) {
    // Own values only: `toString` is on every object, and would pass for a measured metric.
    const value = Object.hasOwn(secondary, c.metric) ? secondary[c.metric] : undefined;
    if (value === undefined) return `constraint metric "${c.metric}" not found in the bench output${at}`;
    if (c.max !== undefined && value > c.max) return `${c.metric} ${formatMetric(value)} exceeds max ${formatMetric(c.max)}${at}`;
    if (c.min !== undefined && value < c.min) return `${c.metric} ${formatMetric(value)} is below min ${formatMetric(c.min)}${at}`;
  }
  return undefined;
}
