/**
 * Calibration: before the first experiment the baseline is measured several times, each run
 * with its own seed and the first seed once more, and what the runs show decides how every
 * candidate is measured. Identical results: the bench is deterministic, one run per candidate.
 * Results that differ: paired A/B runs with the noise-aware rule, the two runs of a pair sharing
 * a seed, so noise that the seed determines cancels within the pair. Pure.
 */
import type { Calibration } from '../domain/run-state.js';
import type { BenchSpec } from '../domain/spec.js';
import { benchPlan } from './bench-plan.js';
import { formatPercent } from './constraints.js';
import { median } from './stats.js';

/** Distinct seeds, then the first again: enough to see a spread, and to tell seed luck from noise. */
export const CALIBRATION_SEEDS = 4;
/** The pairs a varying bench with `repeat: auto` is measured for (and up to `roundCap`). */
export const AUTO_PAIRED_REPEAT = 10;
/**
 * The min_effect of a noisy bench with `repeat: auto` when the spec sets none: with 0 the rule
 * keeps about 5% of no-op changes (1 − confidence); with 1% none in the decision simulation.
 */
export const AUTO_MIN_EFFECT = 0.01;

/** A 31-bit seed from its parts (FNV-1a): the same run, experiment and round always get the same seed. */
export function seedOf(...parts: readonly (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

/**
 * The seed of one bench round: both runs of an A/B pair share it, each pair has its own, and
 * a resumed or re-run experiment gets the same ones.
 */
export function roundSeed(runId: string, experiment: string, round: number): number {
  return seedOf(runId, experiment, round);
}

/** The seeds of the calibration runs of a run's baseline. */
export function calibrationSeeds(runId: string): number[] {
  const distinct = Array.from({ length: CALIBRATION_SEEDS }, (_, i) => seedOf(runId, 'calibration', i + 1));
  return [...distinct, distinct[0]!];
}

function same(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

/** What the runs show, and the repeat it implies for `bench` (auto or as written). */
export function calibrate(bench: BenchSpec, seeds: readonly number[], values: readonly number[]): Calibration {
  const first = values[0] ?? Number.NaN;
  const varies = values.some((v) => !same(v, first));
  const bySeed = new Map<number, number[]>();
  seeds.forEach((seed, i) => bySeed.set(seed, [...(bySeed.get(seed) ?? []), values[i]!]));
  const repeatedAgree = [...bySeed.values()].filter((vs) => vs.length > 1).every((vs) => vs.every((v) => same(v, vs[0]!)));
  const repeated = [...bySeed.values()].some((vs) => vs.length > 1);
  const mid = median([...values]);
  const spread = varies && mid !== 0 ? (Math.max(...values) - Math.min(...values)) / Math.abs(mid) : 0;
  const explicit = !bench.repeat_auto;
  const pairedRepeat = Math.min(AUTO_PAIRED_REPEAT, bench.max_repeat ?? AUTO_PAIRED_REPEAT);
  return {
    runs: values.length,
    seeds: [...seeds],
    values: [...values],
    spread,
    varies,
    seedDetermined: varies && repeated && repeatedAgree,
    mode: (explicit ? benchPlan(bench, { parent: true }).paired : varies) ? 'paired' : 'single',
    repeat: explicit ? bench.repeat : varies ? pairedRepeat : 1,
    explicit,
    ...(!explicit && varies && bench.min_effect_auto ? { minEffect: AUTO_MIN_EFFECT } : {}),
  };
}

/** The bench as the calibration resolved it. */
export function calibratedBench(bench: BenchSpec, calibration: Calibration): BenchSpec {
  const floor = calibration.minEffect === undefined ? {} : { min_effect: { kind: 'relative' as const, value: calibration.minEffect } };
  return { ...bench, repeat: calibration.repeat, ...floor };
}

/** One line for the start of a run, `show` and `watch`. */
export function describeCalibration(c: Calibration): string {
  const kind = !c.varies ? 'identical' : c.seedDetermined ? `spread ${formatPercent(c.spread, false)}, set by the seed` : `spread ${formatPercent(c.spread, false)}, noisy`;
  const floor = c.minEffect === undefined ? '' : `, min_effect ${formatPercent(c.minEffect, false)}`;
  const mode = c.mode === 'single' ? 'one run per candidate' : `paired A/B runs sharing a seed, repeat ${c.repeat}${floor}`;
  return `calibration: ${c.runs} baseline runs, ${kind} → ${mode}${c.explicit ? ' (repeat from the spec)' : ''}`;
}

/** What an explicit `repeat: 1` risks on a bench whose calibration varies; undefined when nothing. */
export function calibrationWarning(c: Calibration): string | undefined {
  if (!c.explicit || c.repeat > 1 || !c.varies) return undefined;
  const what = c.seedDetermined ? 'seed luck' : 'noise';
  return `bench.repeat is 1, but ${c.runs} baseline runs spread over ${formatPercent(c.spread, false)}${c.seedDetermined ? ' with the seed' : ''}: one run per candidate keeps ${what} as gains of up to that size; remove repeat (auto) or set repeat: 10 to measure paired A/B runs`;
}
