/**
 * What producers and workers agree on beyond the job's shape (domain/job.ts): the reasons a job
 * ends without a result, the cancel message, and signing.
 * Jobs and results are signed (signing.ts): a worker runs only what an orchestrator holding the
 * same key enqueued, and an orchestrator keeps only what such a worker measured.
 */
import type { z } from 'zod';
import type { CommitSource, EvaluationRequest, StageKind } from '../domain/evaluation.js';
import { isStageResult, jobShape, JOB_VERSION, type StageJobData, type StageReply, type StageResult } from '../domain/job.js';
import { sign, verify } from './signing.js';

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

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The orchestrator's side: a job's data, signed. */
export function signJob(key: Buffer, job: Omit<StageJobData, 'v' | 'sig'>): StageJobData {
  const payload = { v: JOB_VERSION, stage: job.stage, request: job.request, session: job.session } as const;
  return { ...payload, sig: sign(key, 'job', payload) };
}

/** A job's data as a worker must see it before running anything: well formed and signed with `key`. */
export function readJob(value: unknown, key: Buffer): Checked<StageJobData> {
  if (!isRecord(value)) return { ok: false, reason: 'malformed job: its data is not an object' };
  if (!('sig' in value)) return { ok: false, reason: 'unsigned job' };
  const shape = jobShape.safeParse(value);
  if (!shape.success) return { ok: false, reason: `malformed job: ${describeIssues(shape.error)}` };
  // The signature covers the data as stored, so whatever the shape check let through is signed too.
  const { sig, ...payload } = value;
  if (!verify(key, 'job', payload, sig)) return { ok: false, reason: 'bad signature (not signed with this RATCHET_KEY, or changed since)' };
  return { ok: true, value: value as unknown as StageJobData };
}

/** The worker's side: a result bound to the job it answers, so it cannot be moved to another. */
export function signReply(key: Buffer, jobId: string, job: StageJobData, result: StageResult): StageReply {
  return { v: JOB_VERSION, result, sig: sign(key, 'result', { jobId, job: job.sig, result }) };
}

/** A job's return value as the orchestrator may trust it: a stage result the worker signed for this job. */
export function readReply(value: unknown, jobId: string, job: StageJobData, key: Buffer): Checked<StageResult> {
  if (!isRecord(value) || value['v'] !== JOB_VERSION || !isStageResult(value['result'])) return { ok: false, reason: 'not a stage result of a known version' };
  if (!verify(key, 'result', { jobId, job: job.sig, result: value['result'] }, value['sig'])) return { ok: false, reason: 'bad signature' };
  return { ok: true, value: value['result'] };
}

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '';
  return `${shown.join('; ')}${more}`.slice(0, 500);
}

/**
 * A stored job is reusable only when it evaluated the same commits from the same place: where a
 * worker ran it, and in which of its worktrees, is the worker's business.
 */
export function sameRequest(stored: StageJobData, request: EvaluationRequest, stage: StageKind): boolean {
  if (stored.stage !== stage) return false;
  const r = stored.request;
  return (
    r.runId === request.runId &&
    r.experiment === request.experiment &&
    r.commit === request.commit &&
    (r.parentCommit ?? null) === (request.parentCommit ?? null) &&
    r.baseCommit === request.baseCommit &&
    sourceKey(r.source) === sourceKey(request.source)
  );
}

/** One string per place commits come from. */
export function sourceKey(source: CommitSource): string {
  return source.kind === 'local' ? `local:${source.gitDir}` : `remote:${source.url}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
