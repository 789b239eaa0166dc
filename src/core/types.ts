/**
 * The words of ratchet as types, and the interfaces the loop talks to. Nothing here imports an
 * adapter (git, execa, BullMQ, the Anthropic SDK): those implement these interfaces elsewhere.
 */
import type { Spec } from '../spec/schema.js';

/** `overfit`: won the bench but failed the holdout (`spec.holdout`), which the agent never sees. */
export type Verdict = 'keep' | 'discard' | 'checks_failed' | 'crash' | 'timeout' | 'rejected' | 'conflict' | 'overfit';
export const VERDICTS: readonly Verdict[] = ['keep', 'discard', 'checks_failed', 'crash', 'timeout', 'rejected', 'conflict', 'overfit'];

/** `e0000` is the baseline; then `e0001`, `e0002`, … */
export type ExperimentId = string;
export function experimentId(n: number): ExperimentId {
  return `e${String(n).padStart(4, '0')}`;
}
export function experimentNumber(id: ExperimentId): number {
  return Number(id.slice(1));
}

/** Token usage and cost of one proposal (model-driven agents). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

// ---------------------------------------------------------------------------------------------
// Agents

/**
 * What an agent remembers of one proposal besides its description (the tune agent's search
 * state): plain JSON the loop records and gives back in the history, never reads. By
 * convention `{ agent: <kind>, v: <version>, … }`, so the agent can tell its own and its version.
 */
export type AgentState = Record<string, unknown>;

/** One row of the history a proposer sees. */
export interface HistoryRow {
  experiment: ExperimentId;
  verdict: Verdict;
  metric: number | undefined;
  description: string;
  /** The verdict's reason as the agent may see it: without the holdout's figures (`agentReason`). */
  reason: string;
  /** What the agent recorded with this proposal, when it did. */
  agentState?: AgentState;
}

export interface ProposalContext {
  runId: string;
  experiment: ExperimentId;
  /** Absolute path of the experiment's worktree, checked out at `parentCommit`. */
  worktree: string;
  parentCommit: string;
  spec: Spec;
  /** The objective as prose (a file objective already read). */
  objective: string;
  /** Every finished experiment of the run, oldest first, the baseline included. */
  history: readonly HistoryRow[];
  best: { experiment: ExperimentId; metric: number; commit: string };
  /** Tail of the output of the most recent failed experiment, if any. */
  lastFailure: { experiment: ExperimentId; verdict: Verdict; reason: string; outputTail: string } | undefined;
  /** Where the agent may write its transcript and scratch files (the experiment's run folder). */
  experimentDir: string;
  /** The repository's common git dir: read-only in the sandbox of the agent's commands. */
  gitDir: string;
}

export type ProposalOutcome =
  /** The agent changed the worktree; the orchestrator validates and commits the change. */
  | { kind: 'change'; description: string; hypothesis?: string; usage?: Usage; agentState?: AgentState }
  /** The agent could not produce a change (a patch that does not apply, an API failure). */
  | { kind: 'failed'; verdict: 'rejected' | 'crash' | 'timeout'; reason: string; usage?: Usage; outputTail?: string }
  /** Nothing left to propose (replay ran out of patches): the run ends normally. */
  | { kind: 'exhausted'; reason: string };

export interface Proposer {
  readonly kind: string;
  propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome>;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

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
   * The baseline's calibration: one bench run per seed, in order, with no policy (eval/calibration.ts).
   * Otherwise each round's seed is derived (eval/seeds.ts).
   */
  seeds?: readonly number[];
}

/** Stage progress reported while an evaluation runs (for events and the views). */
export interface StageProgress {
  stage: StageKind;
  state: 'started' | 'finished';
  /** The stage's outcomes (one per check) when finished. */
  outcomes?: StageOutcome[];
}

/** Evaluates candidates: in-process, or through a queue to workers. */
export interface EvaluationQueue {
  /** setup → checks → bench. */
  evaluate(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation>;
  /** The holdout stage alone (`spec.holdout`), in worktrees the evaluation already set up. */
  evaluateHoldout(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Decision

export interface Decision {
  verdict: Verdict;
  reason: string;
  /** Candidate minus best, in metric units. */
  delta: number | undefined;
  /** delta / |best|, signed so that positive is always an improvement. */
  gain: number | undefined;
  /** Statistics of a noise-aware decision, for result.json and the log. */
  stats?: Record<string, number | string | boolean>;
}

/**
 * The holdout's figures for one candidate (recorded for the user, never shown to the agent):
 * its value, the parent's it was compared with, the change, and whether the rule held.
 */
export interface HoldoutResult {
  metric: number;
  /** The parent's value: measured beside it (A/B), or the one recorded when the parent was kept. */
  parent: number | undefined;
  /** (metric − parent) / |parent|, unsigned by goal: +4% is a rise. */
  change: number | undefined;
  rule: 'no_regress' | 'improve';
  passed: boolean;
  /** One line: the comparison and, when it failed, why. */
  reason: string;
  pairs?: number;
  p_value?: number;
}
