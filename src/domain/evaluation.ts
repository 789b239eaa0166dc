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

/** What the evaluation of one commit needs; plain data, so it can travel as a job. */
export interface EvaluationRequest {
  runId: string;
  experiment: ExperimentId;
  /** Worktree of the candidate, at `commit`. */
  worktree: string;
  commit: string;
  /** Worktree of the parent for A/B benches (repeat > 1); absent for the baseline. */
  parentWorktree: string | undefined;
  parentCommit: string | undefined;
  /** Folder that receives `setup.log`, `checks.log`, `bench.log`. */
  logDir: string;
  /** The run's resolved spec: never the candidate's copy of ratchet.yaml. */
  spec: Spec;
  /** The run's base commit, from which protected files are restored before evaluation. */
  baseCommit: string;
  /** The repository's common git dir: its refs are watched, and it is visible read-only in the sandbox. */
  gitDir: string;
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
