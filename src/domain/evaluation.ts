/**
 * The evaluation of one commit: what is asked (a request, plain data so it can travel as a job),
 * what comes back (stage outcomes, a measurement), and the queue the loop hands it to.
 */
import type { Spec } from './spec.js';
import type { ExperimentId } from './words.js';

/** `holdout` runs apart from the others, only for a candidate the bench would keep. */
export type StageKind = 'setup' | 'checks' | 'bench' | 'holdout';
/** `rejected`: the stage broke a rule of the trust boundary (touched a protected file, moved a ref). */
export type StageStatus = 'ok' | 'failed' | 'timeout' | 'crash' | 'skipped' | 'rejected';

export interface StageOutcome {
  stage: StageKind;
  /** The check's name; `setup` or `bench` for those stages. */
  name: string;
  status: StageStatus;
  exitCode: number | undefined;
  durationS: number;
  reason: string;
}

/** One recorded run of the bench. */
export interface BenchSample {
  /** `candidate` is the experiment; `parent` its parent, measured alternately (A B A B …). */
  side: 'candidate' | 'parent';
  metric: number;
  /** Secondary metrics read from the same output (constraints, memory). */
  secondary: Record<string, number>;
}

export interface Measurement {
  /** The candidate's value as the decision uses it (the median of its samples). */
  metric: number;
  samples: BenchSample[];
  /** Medians of the candidate's secondary metrics. */
  secondary: Record<string, number>;
}

export type EvaluationStatus = 'ok' | 'checks_failed' | 'crash' | 'timeout' | 'rejected';

export interface Evaluation {
  status: EvaluationStatus;
  /** One line: why it is not ok, or a summary when it is. */
  reason: string;
  stages: StageOutcome[];
  measurement: Measurement | undefined;
  durationS: number;
  /** Tail of the output of the stage that failed. */
  failureTail: string | undefined;
}

/**
 * Where a worker gets the commits of a request. `local`: a repository on the orchestrator's
 * machine, which a worker that can see that path uses as it is (`ratchet run`'s own worker, or a
 * worker sharing the machine). `remote`: a git remote the orchestrator pushed the run's base and
 * candidates to, under `refs/ratchet/<run>/…`; a worker fetches them into a clone of its own.
 */
export type CommitSource = { kind: 'local'; gitDir: string } | { kind: 'remote'; url: string };

/**
 * What the evaluation of one commit needs: plain data, so it can travel as a job. It names a
 * repository, commits and (with the stage, in the job) what to do; the worker makes its own
 * worktrees, so nothing here is a worktree of the orchestrator's.
 */
export interface EvaluationRequest {
  runId: string;
  experiment: ExperimentId;
  commit: string;
  /** The parent measured beside the candidate (A/B: a paired bench or holdout); absent otherwise, and for the baseline. */
  parentCommit: string | undefined;
  /** The run's resolved spec: never the candidate's copy of ratchet.yaml. */
  spec: Spec;
  /** The run's base commit: a worker checks protected files out from it, whatever the candidate holds. */
  baseCommit: string;
  /** Where the commits are. */
  source: CommitSource;
  /**
   * The baseline's calibration: one bench run per seed, in order, with no policy (plan/calibration.ts).
   * Otherwise each round's seed is derived (plan/seeds.ts).
   */
  seeds?: readonly number[];
}

/** Stage progress reported while an evaluation runs (for events and the views). */
export interface StageProgress {
  stage: StageKind;
  state: 'started' | 'finished';
  /** The stage's outcomes (one per check) when finished. */
  outcomes?: StageOutcome[];
  /** The worker that ran it, when finished and it said. */
  worker?: string;
}

/** Evaluates candidates: in-process, or through a queue to workers. */
export interface EvaluationQueue {
  /** setup → checks → bench. */
  evaluate(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation>;
  /** The holdout stage alone (`spec.holdout`), in worktrees the evaluation already set up. */
  evaluateHoldout(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation>;
  close(): Promise<void>;
}
