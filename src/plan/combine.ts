/** Folds the results of an evaluation's stages into one Evaluation. Pure. */
import type { Evaluation, EvaluationStatus, StageOutcome } from '../domain/evaluation.js';
import { outcomePassed, type StageResult } from '../domain/job.js';

/** What a stage outcome that did not pass means for the whole evaluation. */
function statusOf(outcome: StageOutcome): EvaluationStatus {
  if (outcome.status === 'rejected') return 'rejected';
  // A setup that fails says nothing about the candidate's quality: it could not be evaluated.
  if (outcome.stage === 'setup') return 'crash';
  if (outcome.status === 'timeout') return 'timeout';
  if (outcome.stage === 'checks' && outcome.status === 'failed') return 'checks_failed';
  return 'crash';
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Results in the order the stages ran: setup, checks, bench. The first failure decides. */
export function combineStages(results: readonly StageResult[]): Evaluation {
  const stages = results.flatMap((r) => r.outcomes);
  const durationS = stages.reduce((sum, o) => sum + o.durationS, 0);
  const failedResult = results.find((r) => !r.outcomes.every(outcomePassed));
  const failed = failedResult?.outcomes.find((o) => !outcomePassed(o));
  if (failedResult !== undefined && failed !== undefined) {
    return {
      status: statusOf(failed),
      reason: oneLine(failed.reason),
      stages,
      measurement: undefined,
      durationS,
      failureTail: failedResult.failureTail,
    };
  }
  const measurement = results.findLast((r) => r.measurement !== undefined)?.measurement;
  const bench = stages.findLast((o) => o.stage === 'bench');
  return {
    status: 'ok',
    reason: oneLine(bench?.reason ?? `${stages.length} stage${stages.length === 1 ? '' : 's'} passed`),
    stages,
    measurement,
    durationS,
    failureTail: undefined,
  };
}
