/**
 * The evaluation job as data: what an orchestrator enqueues and a worker returns, and the shape a
 * worker checks before running anything. Versioned, because a resumed run may meet jobs from an
 * older ratchet. Signing them is the queue's (src/queue/protocol.ts); this is only the shape.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { EvaluationRequest, Measurement, StageKind, StageOutcome } from './evaluation.js';
import { EXPERIMENT_ID, RUN_ID } from './words.js';

/**
 * v3: the request names commits and where to get them (`source`), never a worktree of the
 * orchestrator's. v2: signed (`sig`), and a worker returns a signed `StageReply`. Jobs of an
 * earlier version are refused as malformed (and v1 as unsigned), so a resumed run enqueues them anew.
 */
export const JOB_VERSION = 3;

/** The stages of an evaluation, in order; `holdout` is asked for apart (a keep's check). */
export const STAGES: readonly StageKind[] = ['setup', 'checks', 'bench'];
export const JOB_STAGES: readonly StageKind[] = [...STAGES, 'holdout'];

/** What one stage of one evaluation produced. */
export interface StageResult {
  outcomes: StageOutcome[];
  measurement?: Measurement;
  /** Last lines of the failing command's output. */
  failureTail?: string;
  /** The name of the worker that ran the stage (`ratchet worker --name`, default its host name). */
  worker?: string;
}

export interface StageJobData {
  v: typeof JOB_VERSION;
  stage: StageKind;
  request: EvaluationRequest;
  /** The orchestrator session that enqueued it; see queue/registry.ts. */
  session: string;
  /** HMAC of the rest (queue/signing.ts), by the orchestrator. */
  sig: string;
}

/** What a worker returns for a job: the stage's result, signed for that very job. */
export interface StageReply {
  v: typeof JOB_VERSION;
  result: StageResult;
  sig: string;
}

const absolutePath = z
  .string()
  .max(4096)
  .refine((p) => isAbsolute(p) && !p.includes('\0'), 'expected an absolute path');
const commit = z.string().regex(/^[0-9a-f]{7,64}$/, 'expected a hexadecimal commit id');

/**
 * The spec travels parsed (durations in ms). Only the few fields every stage reads are checked,
 * loosely: the signature, not this shape, is what says the spec is the orchestrator's.
 */
const specShape = z.looseObject({
  checks: z.array(z.looseObject({ name: z.string(), run: z.string() })),
  bench: z.looseObject({ run: z.string(), metric: z.looseObject({ name: z.string() }) }),
});

const requestShape = z.looseObject({
  runId: z.string().max(200).regex(RUN_ID, 'expected a run id'),
  experiment: z.string().regex(EXPERIMENT_ID, 'expected an experiment id like e0003'),
  commit,
  parentCommit: commit.optional(),
  spec: specShape,
  baseCommit: commit,
  source: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('local'), gitDir: absolutePath }),
    z.strictObject({ kind: z.literal('remote'), url: z.string().min(1).max(4096).refine((u) => !u.includes('\0') && !u.startsWith('-'), 'expected a git remote URL') }),
  ]),
  seeds: z.array(z.int().min(0)).max(1000).optional(),
});

/** A job's data as a worker may read it (before its signature is checked). */
export const jobShape = z.strictObject({
  v: z.literal(JOB_VERSION),
  stage: z.enum(JOB_STAGES as [StageKind, ...StageKind[]]),
  request: requestShape,
  session: z.string().min(1).max(200),
  sig: z.string(),
});

export function isStageResult(value: unknown): value is StageResult {
  return isRecord(value) && Array.isArray(value['outcomes']) && value['outcomes'].every(isRecord);
}

/** An outcome that lets the evaluation go on: ok, or skipped (e.g. setup done before). */
export function outcomePassed(outcome: StageOutcome): boolean {
  return outcome.status === 'ok' || outcome.status === 'skipped';
}

/** The next stage runs only when every outcome of this one passed. */
export function stagePassed(result: StageResult): boolean {
  return result.outcomes.every(outcomePassed);
}

/** A stage that produced no result of its own: the worker or the queue failed. */
export function crashedStage(stage: StageKind, reason: string): StageResult {
  const outcome: StageOutcome = { stage, name: stage, status: 'crash', exitCode: undefined, durationS: 0, reason };
  return { outcomes: [outcome], failureTail: reason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
