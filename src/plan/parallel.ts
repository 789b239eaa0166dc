/**
 * The pure rules of many candidates in flight: which parent a new experiment starts from, and
 * what a candidate that would be kept must do before the best branch moves to it (the merge rule).
 */
import type { RunState } from '../domain/run-state.js';
import type { ExperimentId } from '../domain/words.js';

export interface Parent {
  exp: ExperimentId;
  commit: string;
  metric: number;
  holdout?: number;
}

/** An experiment starts from the best as it stands when it starts; undefined before the baseline is kept. */
export function selectParent(state: RunState): Parent | undefined {
  const best = state.best;
  if (best === undefined) return undefined;
  return { exp: best.exp, commit: best.commit, metric: best.metric, ...(best.holdout === undefined ? {} : { holdout: best.holdout }) };
}

export type MergeStep =
  /** The candidate was measured on top of the best: the best branch may move to it. */
  | { kind: 'integrate' }
  /** The best moved while it was in flight: re-apply it on `onto` and measure it there again. */
  | { kind: 'reapply'; onto: Parent };

/**
 * Every kept commit must have been measured on top of the commit before it on the best branch,
 * so a keep measured against an older best is re-applied on the new one and evaluated again.
 */
export function mergeStep(candidateParent: string, best: Parent): MergeStep {
  return candidateParent === best.commit ? { kind: 'integrate' } : { kind: 'reapply', onto: best };
}

/** How many more experiments may start now: `parallel` slots, less those in flight. */
export function freeSlots(parallel: number, inFlight: number): number {
  return Math.max(0, parallel - inFlight);
}
