/**
 * The verdict of an evaluated candidate: a pure function of the spec, the best and the
 * measurement. With `bench.repeat: 1` the metric is taken as deterministic and the rule is
 * "beats the best by at least min_effect in the goal's direction; a tie is a discard".
 * When the bench is paired (bench-plan.ts: `repeat > 1` and A/B pairs measured), the noise-aware rule decides
 * (`noise-decision.ts`).
 */
import type { Decision } from '../domain/decision.js';
import type { Evaluation, Measurement } from '../domain/evaluation.js';
import type { Verdict } from '../domain/words.js';
import type { BenchSpec, Goal, MinEffect } from '../domain/spec.js';
import { benchPlan } from './bench-plan.js';
import { constraintViolation, formatMetric, formatPercent } from './constraints.js';
import { decideNoiseAware } from './noise-decision.js';

export { constraintViolation, formatMetric } from './constraints.js';

export interface DecisionInput {
  bench: BenchSpec;
  /** The best's metric (the parent the candidate was measured against). */
  best: number;
  evaluation: Evaluation;
}

/** Positive when `candidate` is better than `reference` in the goal's direction. */
export function improvement(goal: Goal, candidate: number, reference: number): number {
  return goal === 'minimize' ? reference - candidate : candidate - reference;
}

/** The smallest improvement worth keeping, in metric units, relative to `reference`. */
export function threshold(minEffect: MinEffect, reference: number): number {
  return minEffect.kind === 'relative' ? minEffect.value * Math.abs(reference) : minEffect.value;
}


function failure(verdict: Verdict, reason: string): Decision {
  return { verdict, reason, delta: undefined, gain: undefined };
}

export function decide(input: DecisionInput): Decision {
  const { bench, best, evaluation } = input;
  switch (evaluation.status) {
    case 'checks_failed':
      return failure('checks_failed', evaluation.reason);
    case 'timeout':
      return failure('timeout', evaluation.reason);
    case 'crash':
      return failure('crash', evaluation.reason);
    case 'rejected':
      return failure('rejected', evaluation.reason);
    case 'ok':
      break;
  }
  const m = evaluation.measurement;
  if (m === undefined) return failure('crash', 'the bench produced no measurement');
  if (benchPlan(bench, { parent: hasPairs(m) }).paired) return decideNoiseAware({ bench, measurement: m });
  const goal = bench.metric.goal;
  const delta = m.metric - best;
  const gainAbs = improvement(goal, m.metric, best);
  const gain = best === 0 ? undefined : gainAbs / Math.abs(best);
  const violated = constraintViolation(bench, m.secondary);
  if (violated !== undefined) return { verdict: 'discard', reason: violated, delta, gain };
  const need = threshold(bench.min_effect, best);
  const name = bench.metric.name;
  const change = `${name} ${formatMetric(best)} → ${formatMetric(m.metric)}`;
  if (gainAbs > 0 && gainAbs >= need) {
    return { verdict: 'keep', reason: `${change} (${formatGain(gain)})`, delta, gain };
  }
  if (gainAbs === 0) return { verdict: 'discard', reason: `${change}: a tie is not an improvement`, delta, gain };
  if (gainAbs < 0) return { verdict: 'discard', reason: `${change}: worse (${formatGain(gain)})`, delta, gain };
  return { verdict: 'discard', reason: `${change}: gain below min_effect ${formatMinEffect(bench.min_effect)}`, delta, gain };
}

/** A/B samples with both sides: without a parent run (the baseline) there is nothing to pair. */
function hasPairs(m: Measurement): boolean {
  return m.samples.some((s) => s.side === 'candidate') && m.samples.some((s) => s.side === 'parent');
}

export function formatGain(gain: number | undefined): string {
  return gain === undefined ? 'n/a' : formatPercent(gain);
}

export function formatMinEffect(minEffect: MinEffect): string {
  return minEffect.kind === 'relative' ? `${formatMetric(minEffect.value * 100)}%` : formatMetric(minEffect.value);
}
