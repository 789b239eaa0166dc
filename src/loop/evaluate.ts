/**
 * The evaluation phase of one experiment (the baseline's too): the request to the queue, the
 * run's refs checked after the stages, the decision, and the holdout of a would-be keep.
 */
import { decide } from '../plan/decide.js';
import { refs } from '../domain/refs.js';
import type { Decision, HoldoutResult } from '../domain/decision.js';
import type { Evaluation, EvaluationRequest } from '../domain/evaluation.js';
import type { ExperimentId } from '../domain/words.js';
import { checkHoldout, type HoldoutCheck } from './holdout.js';
import { progressRecorder } from './record.js';
import type { RunContext } from './run-context.js';
import { expectedRunRefs, runRefDrift } from './run-refs.js';

/**
 * Puts the run's refs back where the log says they are; returns the refs it had to fix. Called
 * after everything a candidate ran, so the best branch is checked against the log before it moves.
 */
export async function putBackRunRefs(run: RunContext): Promise<string[]> {
  const { prefix } = refs(run.runId);
  const drift = runRefDrift(expectedRunRefs(run.store.getState(), prefix, run.baseCommit), await run.workspace.listRefs(prefix));
  for (const d of drift) await run.workspace.updateRef(d.ref, d.expected);
  return drift.map((d) => `${d.actual === undefined ? 'deleted' : 'moved'} ${d.ref.replace(/^refs\/heads\//, '')}`);
}

export interface EvaluatedCandidate {
  evaluation: Evaluation;
  decision: Decision;
  /** The holdout's check, when the spec has one and the bench would keep the candidate. */
  holdout?: HoldoutCheck;
}

/**
 * Evaluate a committed candidate and decide; the caller records. A candidate the bench would
 * keep (and the baseline, `parent.metric` NaN) then runs the holdout, which may turn the keep
 * into `overfit`.
 */
export async function evaluateAndDecide(
  run: RunContext,
  exp: ExperimentId,
  commit: string,
  /** `paired`: the parent is measured beside the candidate (plan/bench-plan.ts, measuresParent). */
  parent: { commit: string; metric: number; paired: boolean; holdout?: number | undefined },
  signal: AbortSignal,
  /** The baseline's calibration seeds: one bench run each. */
  seeds?: readonly number[],
): Promise<EvaluatedCandidate> {
  // The queue writes the stage logs the workers send back into this folder.
  await run.store.ensureExperimentDir(exp);
  const request: EvaluationRequest = {
    runId: run.runId,
    experiment: exp,
    commit,
    parentCommit: parent.paired ? parent.commit : undefined,
    spec: run.spec,
    baseCommit: run.baseCommit,
    source: run.commitSource ?? { kind: 'local', gitDir: run.workspace.gitDir },
    ...(seeds === undefined ? {} : { seeds }),
  };
  // The worker checks the commits out in its own worktrees, protected files from the base commit, each stage isolated (eval/isolation.ts).
  const progress = progressRecorder(run, exp);
  const evaluation = await run.queue.evaluate(request, signal, progress.onProgress);
  await progress.settled();
  const moved = await putBackRunRefs(run);
  const decision = decide({ bench: run.spec.bench, best: parent.metric, evaluation });
  if (moved.length > 0) {
    // What the stages found and put back (the user's branches) is named too, not only the run's refs.
    const also = decision.verdict === 'rejected' ? `; ${decision.reason}` : '';
    return { evaluation, decision: { verdict: 'rejected', reason: `${moved.join(', ')} while it ran (put back)${also}`, delta: undefined, gain: undefined } };
  }
  const baseline = Number.isNaN(parent.metric) && evaluation.status === 'ok' && evaluation.measurement !== undefined;
  if (run.spec.holdout === undefined || (decision.verdict !== 'keep' && !baseline)) return { evaluation, decision };
  const bench = baseline ? { verdict: 'keep' as const, reason: 'baseline', delta: undefined, gain: undefined } : decision;
  const holdout = await checkHoldout(run, request, bench, { metric: parent.metric, holdout: parent.holdout }, () => putBackRunRefs(run), signal);
  return { evaluation, decision: holdout.decision, holdout };
}

/** The holdout's part of an experiment's record. */
export function holdoutFields(check: HoldoutCheck | undefined): { holdout?: HoldoutResult; agentReason?: string } {
  return {
    ...(check?.holdout === undefined ? {} : { holdout: check.holdout }),
    ...(check?.agentReason === undefined ? {} : { agentReason: check.agentReason }),
  };
}
