/**
 * Adaptive repeats: the bench consults the policy after each A/B pair. A clearly losing candidate
 * stops early (a rejection can never add a false keep), a clear winner stops at `repeat` pairs,
 * and a borderline one is extended pair by pair up to `roundCap(bench)`. A far-out pair is set
 * aside and does not count towards `repeat`, so the policy asks for another in its place; every
 * pair measured counts towards `roundCap`. The looks use the same evidence (`weighPairs`: the
 * same pairs set aside, the same confidence) as the final decision, so the policy stops with a
 * keep exactly when `decideNoiseAware` would keep on those samples.
 */
import type { BenchSample } from '../domain/evaluation.js';
import type { BenchSpec } from '../domain/spec.js';
import { clearsBar, pairSamples, weighPairs } from './noise-decision.js';
import { roundCap } from './bench-plan.js';

export type RepeatAction = 'continue' | 'stop';
export type RepeatPolicy = (samples: readonly BenchSample[]) => RepeatAction;

/** Fewer pairs than this say too little even to give up on a candidate (a bootstrap of 4 is its range). */
export const FUTILITY_MIN_PAIRS = 5;

export type LookReason =
  /** Not yet the minimum number of pairs for this kind of stop. */
  | 'too_few_pairs'
  /** The upper bound (at the spec's confidence) is at or below min_effect: no keep worth having. */
  | 'futile'
  /** The decision would keep it now. */
  | 'keep'
  /** The interval straddles min_effect: measure another pair. */
  | 'borderline'
  /** `roundCap` pairs measured, set-aside ones included. */
  | 'max_pairs'
  /** The pairs cannot be compared (a parent measured 0, a non-finite value): more will not help. */
  | 'incomparable'
  /** No parent runs (the baseline): nothing to pair, so `repeat` runs as without a policy. */
  | 'unpaired';

export interface Look {
  action: RepeatAction;
  reason: LookReason;
  /** Pairs measured, set-aside ones included. */
  pairs: number;
  /** Of those, far-out pairs set aside (not weighed). */
  setAside: number;
}

/** What the policy does after the pairs measured so far, and why. */
export function lookAt(bench: BenchSpec, samples: readonly BenchSample[]): Look {
  const pairs = pairSamples(samples);
  const measured = pairs.length;
  let setAside = 0;
  const look = (action: RepeatAction, reason: LookReason): Look => ({ action, reason, pairs: measured, setAside });
  if (!samples.some((s) => s.side === 'parent')) {
    return look(samples.length >= bench.repeat ? 'stop' : 'continue', 'unpaired');
  }
  const least = Math.min(FUTILITY_MIN_PAIRS, bench.repeat);
  if (measured < least) return look('continue', 'too_few_pairs');
  const evidence = weighPairs(bench, pairs);
  if (typeof evidence === 'string') return look('stop', 'incomparable');
  setAside = evidence.setAside.length;
  const n = evidence.pairs;
  // Keeping before `repeat` pairs would be an early stop for success, which inflates false keeps.
  if (n >= bench.repeat && clearsBar(evidence)) return look('stop', 'keep');
  if (n >= least && evidence.highAtSpec <= evidence.minEffect) return look('stop', 'futile');
  // The cap on set-aside pairs leaves at least `repeat` weighed here, so a keep was looked for.
  if (measured >= roundCap(bench)) return look('stop', 'max_pairs');
  if (n < bench.repeat) return look('continue', 'too_few_pairs');
  return look('continue', 'borderline');
}

/** The policy the bench stage consults after each pair; it measures at most `roundCap(bench)` pairs. */
export function adaptivePolicy(bench: BenchSpec): RepeatPolicy {
  return (samples) => lookAt(bench, samples).action;
}
