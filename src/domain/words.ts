/** The words of ratchet (DESIGN.md's table) that everything else is built from: verdicts, experiment ids, usage. */

/**
 * Every verdict, written once: the event schema, the counts and the views take it from here.
 * `overfit`: won the bench but failed the holdout (`spec.holdout`), which the agent never sees.
 */
export const VERDICTS = ['keep', 'discard', 'checks_failed', 'crash', 'timeout', 'rejected', 'conflict', 'overfit'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * Why a run stopped. `user`: `ratchet stop` asked for it; `signal`: Ctrl-C or SIGTERM.
 * 'user' came after the others: a ratchet older than it reports that event as a problem.
 */
export const STOP_REASONS = ['budget', 'exhausted', 'signal', 'user', 'failures', 'error'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** `e0000` is the baseline; then `e0001`, `e0002`, … */
export type ExperimentId = string;
/**
 * What a run id looks like: letters, digits, `-` and `_`, because it names git refs, folders,
 * BullMQ queues and job ids (BullMQ forbids `:` in those).
 */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** What an experiment id looks like, for every reader of one (events, jobs, the CLI, the dashboard). */
export const EXPERIMENT_ID = /^e\d{4,}$/;
export const BASELINE: ExperimentId = 'e0000';
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
