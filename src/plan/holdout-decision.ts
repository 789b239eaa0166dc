/**
 * The holdout's rule, pure: does a candidate the bench would keep hold up on the holdout?
 * `no_regress`: it must not be worse than its parent; `improve`: it must be better. With one
 * run (`holdout.repeat: 1`) the holdout is taken as deterministic and compared with the value
 * recorded when the parent was kept; with A/B pairs the noise-aware evidence of
 * `noise-decision.ts` decides, for `no_regress` inverted: overfit only when shown worse.
 */
import type { Decision, HoldoutResult } from '../domain/decision.js';
import type { Measurement } from '../domain/evaluation.js';
import type { HoldoutSpec } from '../domain/spec.js';
import { formatMetric, formatPercent } from './constraints.js';
import { formatMinEffect, improvement, threshold } from './decide.js';
import { clearsBar, pairSamples, weighEvidence } from './noise-decision.js';
import { median } from './stats.js';
import { benchPlan, holdoutBench } from './bench-plan.js';

export interface HoldoutInput {
  holdout: HoldoutSpec;
  /** The parent's holdout value as recorded when it was kept; used without A/B pairs. */
  recordedParent: number | undefined;
  measurement: Measurement;
}

/** A relative change, signed as the number moved: `+4.0%` is a rise whatever the goal. */
export function formatChange(change: number | undefined): string {
  return change === undefined || !Number.isFinite(change) ? 'n/a' : formatPercent(change);
}

function relativeChange(value: number, reference: number | undefined): number | undefined {
  return reference === undefined || reference === 0 ? undefined : (value - reference) / Math.abs(reference);
}

export function decideHoldout(input: HoldoutInput): HoldoutResult {
  const { holdout, measurement } = input;
  const pairs = pairSamples(measurement.samples);
  if (benchPlan(holdoutBench(holdout), { parent: pairs.length > 0 }).paired) return decidePaired(holdout, measurement);
  const metric = measurement.metric;
  const parent = input.recordedParent;
  const name = holdout.metric.name;
  const rule = holdout.rule;
  if (parent === undefined) return { metric, parent, change: undefined, rule, passed: true, reason: `${name} ${formatMetric(metric)} (no value of the parent to compare with)` };
  const change = relativeChange(metric, parent);
  const reason = `${name} ${formatChange(change)} (${formatMetric(parent)} → ${formatMetric(metric)})`;
  const gain = improvement(holdout.metric.goal, metric, parent);
  const need = threshold(holdout.min_effect, parent);
  const passed = rule === 'no_regress' ? gain >= -need : gain > 0 && gain >= need;
  return { metric, parent, change, rule, passed, reason };
}

function decidePaired(holdout: HoldoutSpec, measurement: Measurement): HoldoutResult {
  const bench = holdoutBench(holdout);
  const pairs = pairSamples(measurement.samples);
  const rule = holdout.rule;
  const name = holdout.metric.name;
  const metric = median(pairs.map((p) => p.candidate));
  const parent = median(pairs.map((p) => p.parent));
  const change = relativeChange(metric, parent);
  const opposite = holdout.metric.goal === 'minimize' ? 'maximize' : 'minimize';
  // no_regress asks the mirror question: is the candidate shown better *in the other direction*?
  const asked = rule === 'improve' ? bench : { ...bench, metric: { ...bench.metric, goal: opposite } as const };
  const evidence = weighEvidence(asked, pairs, holdout.confidence);
  const base = { metric, parent, change, rule, pairs: pairs.length };
  const figures = `${name} ${formatChange(change)} (${formatMetric(parent)} → ${formatMetric(metric)}, medians of ${pairs.length} pairs`;
  // Pairs that cannot be compared (a zero, a NaN) show nothing: no_regress holds, improve does not.
  if (typeof evidence === 'string') return { ...base, passed: rule === 'no_regress', reason: `${figures}): ${evidence}` };
  const shown = clearsBar(evidence);
  const pValue = `p${evidence.pValue < 0.001 ? '<0.001' : `=${Number(evidence.pValue.toPrecision(2))}`}`;
  return { ...base, passed: rule === 'improve' ? shown : !shown, reason: `${figures}, ${pValue})`, p_value: evidence.pValue };
}

/** The rule as the reason names it, with its margin when it has one. */
function ruleText(holdout: HoldoutSpec): string {
  const me = holdout.min_effect;
  if (me.value === 0) return `rule ${holdout.rule}`;
  return holdout.rule === 'improve' ? `rule improve (min_effect ${formatMinEffect(me)})` : `rule no_regress (tolerates ${formatMinEffect(me)})`;
}

/**
 * The verdict of a candidate the bench would keep, once the holdout is known. `benchChange`
 * is the bench metric's relative change, signed as the number moved.
 */
export function withHoldout(bench: Decision, benchMetric: string, benchChange: number | undefined, holdout: HoldoutSpec, result: HoldoutResult): Decision {
  if (result.passed) return bench;
  return { ...bench, verdict: 'overfit', reason: `bench ${benchMetric} ${formatChange(benchChange)} but holdout ${result.reason}: ${ruleText(holdout)}` };
}
