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
import { Mutex } from './mutex.js';
import { unfinishedExperiments } from '../plan/fold.js';

const refLocks = new WeakMap<RunContext, Mutex>();

/**
 * Moves of the run's refs and the events that say where they are, one at a time: a check of the
 * refs never sees the best branch moved and its `best_advanced` not yet written.
 */
export function withRunRefs<T>(run: RunContext, fn: () => Promise<T>): Promise<T> {
  let lock = refLocks.get(run);
  if (lock === undefined) refLocks.set(run, (lock = new Mutex()));
  return lock.run(fn);
}

/**
 * Puts the run's refs back where the log says they are; returns the refs it had to fix. Called
 * after everything a candidate ran, so the best branch is checked against the log before it moves.
 * The refs of other experiments in flight are theirs to check (theirs move as they commit and
 * re-apply); `own` is the experiment that ran.
 */
export async function putBackRunRefs(run: RunContext, own?: ExperimentId): Promise<string[]> {
  const { prefix } = refs(run.runId);
  return withRunRefs(run, async () => {
    const state = run.store.getState();
    const expected = expectedRunRefs(state, prefix, run.baseCommit);
    for (const e of unfinishedExperiments(state)) if (e.id !== own) expected.delete(`${prefix}${e.id}`);
    const drift = runRefDrift(expected, await run.workspace.listRefs(prefix));
    for (const d of drift) await run.workspace.updateRef(d.ref, d.expected);
    return drift.map((d) => `${d.actual === undefined ? 'deleted' : 'moved'} ${d.ref.replace(/^refs\/heads\//, '')}`);
  });
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
  const moved = await putBackRunRefs(run, exp);
  const decision = decide({ bench: run.spec.bench, best: parent.metric, evaluation });
  if (moved.length > 0) {
    // What the stages found and put back (the user's branches) is named too, not only the run's refs.
    const also = decision.verdict === 'rejected' ? `; ${decision.reason}` : '';
    return { evaluation, decision: { verdict: 'rejected', reason: `${moved.join(', ')} while it ran (put back)${also}`, delta: undefined, gain: undefined } };
  }
  const baseline = Number.isNaN(parent.metric) && evaluation.status === 'ok' && evaluation.measurement !== undefined;
  if (run.spec.holdout === undefined || (decision.verdict !== 'keep' && !baseline)) return { evaluation, decision };
  const bench = baseline ? { verdict: 'keep' as const, reason: 'baseline', delta: undefined, gain: undefined } : decision;
  const holdout = await checkHoldout(run, request, bench, { metric: parent.metric, holdout: parent.holdout }, () => putBackRunRefs(run, exp), signal);
  return { evaluation, decision: holdout.decision, holdout };
}

/** The holdout's part of an experiment's record. */
export function holdoutFields(check: HoldoutCheck | undefined): { holdout?: HoldoutResult; agentReason?: string } {
  return {
    ...(check?.holdout === undefined ? {} : { holdout: check.holdout }),
    ...(check?.agentReason === undefined ? {} : { agentReason: check.agentReason }),
  };
}
