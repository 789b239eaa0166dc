/**
 * Calibration: before the first experiment the baseline is measured several times, each run
 * with its own seed and the first seed once more, and what the runs show decides how every
 * candidate is measured. Identical results: the bench is deterministic, one run per candidate.
 * Results that differ: paired A/B runs with the noise-aware rule, the two runs of a pair sharing
 * a seed, so noise that the seed determines cancels within the pair. Pure.
 */
import type { Calibration } from '../domain/run-state.js';
import type { BenchSpec, HoldoutSpec, Spec } from '../domain/spec.js';
import { benchPlan, holdoutBench, roundCap } from './bench-plan.js';
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
/**
 * The confidence of a noisy bench with `repeat: auto` when the spec sets none. With 0.95 and the
 * 1% floor, about 1% of no-op changes are kept when the runs' noise is their own (5% CV, nothing
 * shared within a pair): one in a hundred overnight experiments would be noise. 0.99 keeps about
 * 0.2% of them and still every 10% gain, at the price of some 3% gains (84% kept within 30 pairs
 * instead of 94% on the shared-drift model); `confidence: 0.95` in the spec buys those back.
 * Only where the pairs allowed can reach it: the rank test of n pairs that all agree has p = 2⁻ⁿ,
 * so 99% needs at least 7 pairs, and a `max_repeat` below that keeps 0.95 (see `reachable`).
 */
export const AUTO_CONFIDENCE = 0.99;

/** Whether `pairs` pairs that all agree can pass the rank test at `confidence` (one-sided p = 2⁻ⁿ). */
export function reachable(confidence: number, pairs: number): boolean {
  return 2 ** -pairs < 1 - confidence;
}

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
    ...(!explicit && varies && bench.confidence_auto && reachable(AUTO_CONFIDENCE, roundCap({ ...bench, repeat: pairedRepeat })) ? { confidence: AUTO_CONFIDENCE } : {}),
  };
}

/**
 * The holdout's calibration, from its runs at the baseline (one per calibration seed, like the
 * bench's): only `repeat` is resolved; its min_effect and confidence are the rule's, as written.
 */
export function calibrateHoldout(holdout: HoldoutSpec, seeds: readonly number[], values: readonly number[]): Calibration {
  return calibrate({ ...holdoutBench(holdout), repeat_auto: holdout.repeat_auto, max_repeat: undefined }, seeds, values);
}

export function calibratedHoldout(holdout: HoldoutSpec, calibration: Calibration): HoldoutSpec {
  return { ...holdout, repeat: calibration.repeat };
}

/**
 * The spec as the baseline's calibrations resolved it: what the loop measures with (a resumed
 * run included) and what views read, since run.json's spec keeps `auto` unresolved.
 */
export function calibratedSpec(spec: Spec, found: { calibration: Calibration | undefined; holdoutCalibration: Calibration | undefined }): Spec {
  const bench = found.calibration === undefined ? spec.bench : calibratedBench(spec.bench, found.calibration);
  const holdout = spec.holdout === undefined || found.holdoutCalibration === undefined ? spec.holdout : calibratedHoldout(spec.holdout, found.holdoutCalibration);
  return { ...spec, bench, ...(holdout === undefined ? {} : { holdout }) };
}

/** The bench as the calibration resolved it. */
export function calibratedBench(bench: BenchSpec, calibration: Calibration): BenchSpec {
  const floor = calibration.minEffect === undefined ? {} : { min_effect: { kind: 'relative' as const, value: calibration.minEffect } };
  const confidence = calibration.confidence === undefined ? {} : { confidence: calibration.confidence };
  return { ...bench, repeat: calibration.repeat, ...floor, ...confidence };
}

/** What the baseline's runs showed: `identical`, `spread 0.86%, set by the seed`, `spread 11%, noisy`. */
export function calibrationFinding(c: Calibration): string {
  if (!c.varies) return 'identical';
  return `spread ${formatPercent(c.spread, false)}, ${c.seedDetermined ? 'set by the seed' : 'noisy'}`;
}

/** How candidates are measured because of it: `one run per candidate`, `paired A/B runs sharing a seed, repeat 10, …`. */
export function calibrationMode(c: Calibration): string {
  if (c.mode === 'single') return 'one run per candidate';
  const floor = c.minEffect === undefined ? '' : `, min_effect ${formatPercent(c.minEffect, false)}`;
  const confidence = c.confidence === undefined ? '' : `, confidence ${formatPercent(c.confidence, false)}`;
  return `paired A/B runs sharing a seed, repeat ${c.repeat}${floor}${confidence}`;
}

/** One line for the start of a run, `show`, `watch` and the dashboard. */
export function describeCalibration(c: Calibration, stage: 'bench' | 'holdout' = 'bench'): string {
  return `${stage === 'holdout' ? 'holdout calibration' : 'calibration'}: ${c.runs} baseline runs, ${calibrationFinding(c)} → ${calibrationMode(c)}${c.explicit ? ' (repeat from the spec)' : ''}`;
}

/** What an explicit `repeat: 1` risks on a bench whose calibration varies; undefined when nothing. */
export function calibrationWarning(c: Calibration, stage: 'bench' | 'holdout' = 'bench'): string | undefined {
  if (!c.explicit || c.repeat > 1 || !c.varies) return undefined;
  const what = c.seedDetermined ? 'seed luck' : 'noise';
  if (stage === 'holdout') {
    return `holdout.repeat is 1, but ${c.runs} baseline holdout runs spread over ${formatPercent(c.spread, false)}: one run per candidate lets ${what} decide overfit or not; remove repeat (auto) or set repeat: 10 to measure paired A/B runs`;
  }
  return `bench.repeat is 1, but ${c.runs} baseline runs spread over ${formatPercent(c.spread, false)}${c.seedDetermined ? ' with the seed' : ''}: one run per candidate keeps ${what} as gains of up to that size; remove repeat (auto) or set repeat: 10 to measure paired A/B runs`;
}
