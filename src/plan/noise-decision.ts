/**
 * The noise-aware rule for a paired bench (bench-plan.ts): the candidate and its parent were measured
 * alternately (A B A B …); keep the candidate only when the bootstrap lower bound of its paired
 * improvement lies beyond min_effect and the signed-rank test says it is not a no-op. Far-out
 * pairs (a stall in one run) are set aside first (far-out-pairs.ts). A pure function of the
 * samples: the bootstrap is seeded from them.
 */
import type { BenchSample, Measurement } from '../domain/evaluation.js';
import type { Decision } from '../domain/decision.js';
import type { BenchSpec } from '../domain/spec.js';
import { roundCap } from './bench-plan.js';
import { constraintViolation, formatMetric, formatPercent } from './constraints.js';
import { farOutPairs, setAsideCap } from './far-out-pairs.js';
import { bootstrapHodgesLehmann, hodgesLehmann, logRatioToRelative, median, normalCdf, pairedLogRatios, pairedRelativeDifferences, percentileBounds, quantileSorted, sequentialBoundary, wilcoxonSignedRank, type Pair } from './stats.js';

export interface NoiseAwareInput {
  bench: BenchSpec;
  measurement: Measurement;
}

/** What the pairs say about the candidate; improvements are relative, positive is better. */
export interface PairedEvidence {
  /** Pairs weighed: those measured, less the ones set aside. */
  pairs: number;
  /** Far-out pairs measured but set aside, 1-based in measuring order (see far-out-pairs.ts). */
  setAside: number[];
  /** Paired relative improvement of the candidate over its parent (Hodges–Lehmann estimate). */
  estimate: number;
  /** One-sided lower bound of the improvement at `confidence` (percentile bootstrap). */
  low: number;
  /** One-sided upper bound at `confidence`; [low, high] is a two-sided (2·confidence − 1) interval. */
  high: number;
  /** One-sided upper bound at the spec's confidence: below min_effect, more pairs are futile. */
  highAtSpec: number;
  /** Wilcoxon signed-rank, one-sided: the chance of paired evidence this good from a no-op. */
  pValue: number;
  /** The confidence this look demands of the bounds (see `lookConfidence`). */
  confidence: number;
  /** The spec's confidence (the last look's is a little higher, early looks' much higher). */
  specConfidence: number;
  /** min_effect as a relative improvement (an absolute one divided by the parent's median). */
  minEffect: number;
  candidateMedian: number;
  parentMedian: number;
  /** `log-ratio` when every value is positive (symmetric under a no-op), else plain relative differences. */
  scale: 'log-ratio' | 'relative';
}

/** Pairs in measuring order: the k-th candidate run with the k-th parent run; an unfinished pair is left out. */
export function pairSamples(samples: readonly BenchSample[]): Pair[] {
  const candidate = samples.filter((s) => s.side === 'candidate').map((s) => s.metric);
  const parent = samples.filter((s) => s.side === 'parent').map((s) => s.metric);
  const n = Math.min(candidate.length, parent.length);
  return Array.from({ length: n }, (_, i) => ({ candidate: candidate[i]!, parent: parent[i]! }));
}

/**
 * The confidence the bounds must reach at a look after `pairs` pairs. A borderline candidate is
 * looked at after every pair from `repeat` to `roundCap`, and each look is another chance for a
 * no-op to slip through. The boundary z·√(max/pairs), with z from `sequentialBoundary`, keeps the
 * chance over all looks at 1 − confidence: early looks are strict (99.94% at 10 of 30 pairs), the
 * last one a little above the spec's (96.9% for 95%). Without room to extend it is the spec's.
 */
export function lookConfidence(bench: BenchSpec, pairs: number): number {
  const most = roundCap(bench);
  if (bench.repeat >= most) return bench.confidence;
  const z = sequentialBoundary(1 - bench.confidence, bench.repeat, most);
  return normalCdf(z * Math.sqrt(most / Math.min(Math.max(pairs, 1), most)));
}

/** Why the pairs cannot be compared at all, or undefined when they can. */
function incomparable(bench: BenchSpec, pairs: readonly Pair[]): string | undefined {
  if (pairs.length === 0) return 'no complete A/B pair was measured';
  const bad = pairs.flatMap((p) => [p.candidate, p.parent]).find((v) => !Number.isFinite(v));
  if (bad !== undefined) return `${bench.metric.name} measured ${bad}: not a finite number`;
  const zeroPair = pairs.findIndex((p) => p.parent === 0);
  if (zeroPair >= 0) return `the parent measured 0 in pair ${zeroPair + 1}: a relative change is undefined`;
  return undefined;
}

const allPositive = (pairs: readonly Pair[]) => pairs.every((p) => p.candidate > 0 && p.parent > 0);

/**
 * What the rule weighs after these pairs: far-out pairs set aside (on the log-ratio scale only,
 * where a no-op is symmetric even with stalls), and the rest at the confidence of a look after
 * that many. The adaptive policy and the decision both weigh through here, so they agree.
 */
export function weighPairs(bench: BenchSpec, pairs: readonly Pair[]): PairedEvidence | string {
  const problem = incomparable(bench, pairs);
  if (problem !== undefined) return problem;
  const cap = setAsideCap(pairs.length, bench.repeat, roundCap(bench));
  const far = allPositive(pairs) ? farOutPairs(pairedLogRatios(pairs, bench.metric.goal), cap) : [];
  const weighed = pairs.filter((_, i) => !far.includes(i));
  const evidence = weighEvidence(bench, weighed, lookConfidence(bench, weighed.length));
  return typeof evidence === 'string' ? evidence : { ...evidence, setAside: far.map((i) => i + 1) };
}

/** The evidence of all these pairs at `confidence` (none set aside), or a reason why they cannot be compared. */
export function weighEvidence(bench: BenchSpec, pairs: readonly Pair[], confidence: number): PairedEvidence | string {
  const problem = incomparable(bench, pairs);
  if (problem !== undefined) return problem;
  const goal = bench.metric.goal;
  const positive = allPositive(pairs);
  const diffs = positive ? pairedLogRatios(pairs, goal) : pairedRelativeDifferences(pairs, goal);
  const toRelative = positive ? (x: number) => logRatioToRelative(x, goal) : (x: number) => x;
  const distribution = bootstrapHodgesLehmann(diffs);
  const bounds = percentileBounds(distribution, confidence);
  const parentMedian = median(pairs.map((p) => p.parent));
  const me = bench.min_effect;
  return {
    pairs: pairs.length,
    setAside: [],
    estimate: toRelative(hodgesLehmann(diffs)),
    low: toRelative(bounds.low),
    high: toRelative(bounds.high),
    highAtSpec: toRelative(quantileSorted(distribution, bench.confidence)),
    pValue: wilcoxonSignedRank(diffs).pValue,
    confidence,
    specConfidence: bench.confidence,
    minEffect: me.kind === 'relative' ? me.value : parentMedian === 0 ? Number.POSITIVE_INFINITY : me.value / Math.abs(parentMedian),
    candidateMedian: median(pairs.map((p) => p.candidate)),
    parentMedian,
    scale: positive ? 'log-ratio' : 'relative',
  };
}

/**
 * Both halves of the rule at the look's confidence: the lower bound beyond min_effect, and the
 * rank test significant (a percentile bootstrap of few pairs is too narrow at extreme levels;
 * the exact rank test is not).
 */
export function clearsBar(e: PairedEvidence): boolean {
  return e.low > e.minEffect && e.pValue < 1 - e.confidence;
}

/** The first constraint broken by any candidate run, named with its run; the median could hide it. */
export function sampleConstraintViolation(bench: BenchSpec, samples: readonly BenchSample[]): string | undefined {
  const runs = samples.filter((s) => s.side === 'candidate');
  for (const [i, run] of runs.entries()) {
    const violated = constraintViolation(bench, run.secondary, `(candidate run ${i + 1} of ${runs.length})`);
    if (violated !== undefined) return violated;
  }
  return undefined;
}

export function decideNoiseAware(input: NoiseAwareInput): Decision {
  const { bench, measurement } = input;
  const evidence = weighPairs(bench, pairSamples(measurement.samples));
  if (typeof evidence === 'string') return { verdict: 'discard', reason: evidence, delta: undefined, gain: undefined };
  const delta = evidence.candidateMedian - evidence.parentMedian;
  const stats = evidenceStats(evidence);
  const violated = sampleConstraintViolation(bench, measurement.samples);
  if (violated !== undefined) return { verdict: 'discard', reason: violated, delta, gain: evidence.estimate, stats };
  const summary = describeEvidence(bench.metric.name, evidence);
  const keep = clearsBar(evidence);
  return { verdict: keep ? 'keep' : 'discard', reason: keep ? summary : `${summary}: ${whyNot(bench, evidence)}`, delta, gain: evidence.estimate, stats };
}

/** One line, e.g. `ops_per_sec +3.2% [+1.9%, +4.4%] p=0.002 over 12 pairs (1 far-out pair set aside)`. */
export function describeEvidence(metric: string, e: PairedEvidence): string {
  const aside = e.setAside.length === 0 ? '' : ` (${e.setAside.length} far-out pair${e.setAside.length === 1 ? '' : 's'} set aside)`;
  return `${metric} ${formatPercent(e.estimate)} [${formatPercent(e.low)}, ${formatPercent(e.high)}] p${pValue(e.pValue)} over ${e.pairs} pairs${aside}`;
}

function whyNot(bench: BenchSpec, e: PairedEvidence): string {
  const bar = bench.min_effect.kind === 'relative' ? `min_effect ${formatPercent(e.minEffect, false)}` : `min_effect ${formatMetric(bench.min_effect.value)} (${formatPercent(e.minEffect, false)})`;
  if (e.high < 0) return 'worse than its parent';
  if (e.low <= e.minEffect) return e.minEffect > 0 ? `gain not shown to exceed ${bar}` : 'gain not shown to be above 0';
  return `rank test not significant at ${formatPercent(1 - e.confidence, false)}`;
}

function evidenceStats(e: PairedEvidence): Record<string, number | string> {
  return {
    rule: 'paired',
    estimator: 'hodges-lehmann',
    estimate: e.estimate,
    ci_low: e.low,
    ci_high: e.high,
    ci: `one-sided bounds at ${formatPercent(e.confidence, false)} each`,
    p_value: e.pValue,
    pairs: e.pairs,
    pairs_measured: e.pairs + e.setAside.length,
    set_aside: e.setAside.length,
    set_aside_pairs: e.setAside.join(', '),
    confidence: e.confidence,
    spec_confidence: e.specConfidence,
    min_effect: e.minEffect,
    candidate_median: e.candidateMedian,
    parent_median: e.parentMedian,
    scale: e.scale,
  };
}

function pValue(p: number): string {
  return p < 0.001 ? '<0.001' : `=${Number(p.toPrecision(2))}`;
}

