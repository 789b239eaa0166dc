/**
 * The holdout of a candidate the bench would keep (`spec.holdout`): its stage through the
 * queue, then the rule (`plan/holdout-decision.ts`) on what it measured. The agent learns the
 * verdict and never the holdout's figures or output: those go to the record for the user.
 */
import { decideHoldout, withHoldout } from '../plan/holdout-decision.js';
import { progressRecorder } from './record.js';
import type { RunContext } from './run-context.js';
import type { Decision, HoldoutResult } from '../domain/decision.js';
import type { Evaluation, EvaluationRequest } from '../domain/evaluation.js';

export interface HoldoutCheck {
  /** The verdict with the holdout known: the bench's keep, `overfit`, or the holdout's failure. */
  decision: Decision;
  holdout: HoldoutResult | undefined;
  /** What the agent is told instead of `decision.reason` (no holdout figures), when it differs. */
  agentReason: string | undefined;
  stages: Evaluation['stages'];
  /** The candidate's holdout values in measuring order (the baseline's calibration reads them). */
  values?: number[];
}

/** The bench metric's relative change, signed as the number moved (for the overfit reason). */
function benchChange(decision: Decision, parentMetric: number): number | undefined {
  const reference = typeof decision.stats?.parent_median === 'number' ? decision.stats.parent_median : parentMetric;
  return decision.delta === undefined || reference === 0 || !Number.isFinite(reference) ? undefined : decision.delta / Math.abs(reference);
}

/**
 * Runs the holdout stage and decides. `bench` is the bench's decision (a keep, or the baseline's
 * measurement when `parentMetric` is NaN); `recordedParent` the parent's holdout value as recorded.
 * `putBack` puts the run's refs back and names what the stage moved.
 */
export async function checkHoldout(
  run: RunContext,
  request: EvaluationRequest,
  bench: Decision,
  parent: { metric: number; holdout: number | undefined },
  putBack: () => Promise<string[]>,
  signal: AbortSignal,
): Promise<HoldoutCheck> {
  const spec = run.spec.holdout;
  if (spec === undefined) return { decision: bench, holdout: undefined, agentReason: undefined, stages: [] };
  const progress = progressRecorder(run, request.experiment);
  const evaluation = await run.queue.evaluateHoldout(request, signal, progress.onProgress);
  await progress.settled();
  const moved = await putBack();
  const told = (what: string): string => `${bench.reason}; but ${what} on the holdout, an evaluation you cannot see`;
  if (moved.length > 0) {
    const reason = `${moved.join(', ')} while the holdout ran (put back)`;
    return { decision: { ...bench, verdict: 'rejected', reason }, holdout: undefined, agentReason: reason, stages: evaluation.stages };
  }
  const m = evaluation.measurement;
  if (evaluation.status !== 'ok' || m === undefined) {
    const verdict = evaluation.status === 'ok' || evaluation.status === 'checks_failed' ? 'crash' : evaluation.status;
    const reason = `${bench.reason}; but the holdout did not finish: ${evaluation.reason}`;
    return { decision: { ...bench, verdict, reason }, holdout: undefined, agentReason: told(`it did not finish (${verdict})`), stages: evaluation.stages };
  }
  const result = decideHoldout({ holdout: spec, recordedParent: parent.holdout, measurement: m });
  const decision = withHoldout(bench, run.spec.bench.metric.name, benchChange(bench, parent.metric), spec, result);
  const agentReason = decision.verdict === 'overfit' ? told('it failed') : undefined;
  const values = m.samples.filter((s) => s.side === 'candidate').map((s) => s.metric);
  return { decision, holdout: result, agentReason, stages: evaluation.stages, values };
}
