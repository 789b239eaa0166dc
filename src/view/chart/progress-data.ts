/**
 * What the progress chart shows, in the manner of autoresearch's `progress.png`: every finished
 * experiment as a point, the kept ones labelled, the running best as a step line. The SVG file and
 * the dashboard both draw from this, so they always agree.
 */
import { experimentNumber, type ExperimentId, type Verdict } from '../../domain/words.js';
import type { Goal } from '../../domain/spec.js';
import type { RunInfo } from '../../store/run-dir.js';
import { finishedExperiments } from '../../plan/fold.js';
import type { RunState } from '../../domain/run-state.js';

/** `failed`: no metric to place (crash, failed checks, rejected, timeout, conflict); `overfit`: won the bench, failed the holdout. */
export type PointKind = 'baseline' | 'keep' | 'discard' | 'overfit' | 'failed';

export interface ProgressPoint {
  n: number;
  exp: ExperimentId;
  verdict: Verdict;
  kind: PointKind;
  metric: number | undefined;
  gain: number | undefined;
  description: string;
  reason: string;
}

export interface ProgressData {
  runId: string;
  metric: string;
  goal: Goal;
  points: ProgressPoint[];
  /** Where the running best changes, in order; the line holds each level until the next. */
  best: { n: number; metric: number }[];
  /** Experiments after the baseline, and how many of them were kept. */
  experiments: number;
  kept: number;
}

function pointKind(id: ExperimentId, verdict: Verdict, metric: number | undefined): PointKind {
  if (metric === undefined) return 'failed';
  if (id === 'e0000') return 'baseline';
  return verdict === 'keep' ? 'keep' : verdict === 'overfit' ? 'overfit' : 'discard';
}

/** The metric and its goal: from run.json when there is one, else from the run_started event. */
export function chartMetric(state: RunState, info: RunInfo | undefined): { metric: string; goal: Goal } {
  const fromSpec = info?.spec.bench.metric;
  return {
    metric: fromSpec?.name ?? state.started?.metric ?? 'metric',
    goal: fromSpec?.goal ?? state.started?.goal ?? 'minimize',
  };
}

export function isBetter(goal: Goal, candidate: number, reference: number): boolean {
  return goal === 'minimize' ? candidate < reference : candidate > reference;
}

export function progressData(state: RunState, info?: RunInfo): ProgressData {
  const { metric, goal } = chartMetric(state, info);
  const points: ProgressPoint[] = finishedExperiments(state).map((e) => {
    const f = e.finished!;
    return {
      n: experimentNumber(e.id),
      exp: e.id,
      verdict: f.verdict,
      kind: pointKind(e.id, f.verdict, f.metric),
      metric: f.metric,
      gain: f.gain,
      description: f.description,
      reason: f.reason,
    };
  });
  // Cumulative best over what was kept: monotone even when parallel candidates land out of order.
  const best: ProgressData['best'] = [];
  for (const p of points) {
    if ((p.kind !== 'baseline' && p.kind !== 'keep') || p.metric === undefined) continue;
    const current = best.at(-1);
    if (current === undefined || isBetter(goal, p.metric, current.metric)) best.push({ n: p.n, metric: p.metric });
  }
  const after = points.filter((p) => p.exp !== 'e0000');
  return {
    runId: state.runId,
    metric,
    goal,
    points,
    best,
    experiments: after.length,
    kept: after.filter((p) => p.verdict === 'keep').length,
  };
}
