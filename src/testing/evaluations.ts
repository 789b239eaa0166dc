/** Evaluations as a scripted queue returns them: a measured candidate, or a stage that failed. */
import type { BenchSample, Evaluation, StageOutcome } from '../domain/evaluation.js';

const stage = (name: 'setup' | 'checks' | 'bench', status: StageOutcome['status'], reason: string): StageOutcome => ({
  stage: name,
  name,
  status,
  exitCode: status === 'ok' ? 0 : 1,
  durationS: 1,
  reason,
});

/** A candidate that passed its checks and measured `metric` (one run each unless `samples` says more). */
export function measured(metric: number, options: { samples?: readonly BenchSample[]; durationS?: number } = {}): Evaluation {
  const samples = options.samples ?? [{ side: 'candidate', metric, secondary: {} }];
  return {
    status: 'ok',
    reason: `metric = ${metric}`,
    stages: [stage('setup', 'ok', 'setup passed'), stage('checks', 'ok', 'checks passed'), stage('bench', 'ok', `metric = ${metric}`)],
    measurement: { metric, samples: [...samples], secondary: {} },
    durationS: options.durationS ?? 3,
    failureTail: undefined,
  };
}

/** A candidate whose checks failed, with the tail of their output. */
export function checksFailed(reason: string, failureTail = reason): Evaluation {
  return {
    status: 'checks_failed',
    reason,
    stages: [stage('setup', 'ok', 'setup passed'), stage('checks', 'failed', reason)],
    measurement: undefined,
    durationS: 2,
    failureTail,
  };
}
