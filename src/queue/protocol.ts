/**
 * What producers and workers agree on: the job's data, the reasons a job ends without a result,
 * and the cancel message. Versioned, because a resumed run may meet jobs from an older ratchet.
 */
import type { EvaluationRequest, StageKind, StageOutcome } from '../core/types.js';
import type { StageResult } from '../eval/stages.js';

export interface StageJobData {
  v: 1;
  stage: StageKind;
  request: EvaluationRequest;
  /** The orchestrator session that enqueued it; see registry.ts. */
  session: string;
}

/** Failed reason of a job the orchestrator cancelled: not a result, so a new request re-runs it. */
export const CANCELLED = 'cancelled by the orchestrator';
/** Failed reason of a job left by an earlier session of its run: never run, so a new request re-runs it. */
export const SUPERSEDED = 'enqueued by an earlier session of the run';
/** Abort reason inside a worker that is stopping: the job goes back to the queue, unfinished. */
export const INTERRUPTED = 'the worker is stopping';
/** Abort reason when the worker lost the job's lock: another worker will run it, so stop ours. */
export const LOCK_LOST = 'the worker lost the job lock';

export interface CancelMessage {
  /** BullMQ queue name (`<run>.work`), not the prefixed key. */
  queue: string;
  jobId: string;
}

export function parseCancelMessage(text: string): CancelMessage | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value) && typeof value['queue'] === 'string' && typeof value['jobId'] === 'string') {
      return { queue: value['queue'], jobId: value['jobId'] };
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}

export function isStageJobData(value: unknown): value is StageJobData {
  return (
    isRecord(value) && value['v'] === 1 && typeof value['stage'] === 'string' && typeof value['session'] === 'string' && isRecord(value['request'])
  );
}

/** A stored job is reusable only when it evaluated the same commits in the same worktrees. */
export function sameRequest(stored: unknown, request: EvaluationRequest, stage: StageKind): boolean {
  if (!isStageJobData(stored) || stored.stage !== stage) return false;
  const r = stored.request;
  return (
    r.runId === request.runId &&
    r.experiment === request.experiment &&
    r.commit === request.commit &&
    r.worktree === request.worktree &&
    (r.parentCommit ?? null) === (request.parentCommit ?? null) &&
    (r.parentWorktree ?? null) === (request.parentWorktree ?? null)
  );
}

export function isStageResult(value: unknown): value is StageResult {
  return isRecord(value) && Array.isArray(value['outcomes']) && value['outcomes'].every(isRecord);
}

/** The next stage runs only when every outcome of this one is ok (or skipped, e.g. setup done before). */
export function stagePassed(result: StageResult): boolean {
  return result.outcomes.every((o) => o.status === 'ok' || o.status === 'skipped');
}

/** A stage that produced no result of its own: the worker or the queue failed. */
export function crashedStage(stage: StageKind, reason: string): StageResult {
  const outcome: StageOutcome = { stage, name: stage, status: 'crash', exitCode: undefined, durationS: 0, reason };
  return { outcomes: [outcome], failureTail: reason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
