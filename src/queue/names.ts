/**
 * Where a run's jobs live in Redis. One BullMQ prefix (`ratchet` by default) for every run,
 * and the run id inside the queue name: `ratchet:<run>.work:…`, `ratchet:<run>.bench:…`.
 *
 * Why not a prefix per run (`ratchet:<run>`)? Both isolate runs equally (BullMQ keys are
 * `<prefix>:<queue>:…`, so two runs never share a key), but one fixed prefix lets dashboards
 * (Bull Board, Taskforce) and `ratchet worker` find every run's queues with a single setting.
 * The few keys ratchet adds beside BullMQ's (`<prefix>:runs`, `<prefix>:cancel:…`) cannot
 * collide with a queue: queue names always contain a dot.
 */
import { UserError } from '../domain/errors.js';
import { RUN_ID, type ExperimentId } from '../domain/words.js';
import type { StageKind } from '../domain/evaluation.js';

export const DEFAULT_PREFIX = 'ratchet';

/** `work` runs setup and checks (concurrency N); `bench` runs one job at a time per worker. */
export type QueueRole = 'work' | 'bench';
export const QUEUE_ROLES: readonly QueueRole[] = ['work', 'bench'];

// BullMQ forbids `:` in queue names and job ids; a run id's pattern keeps keys readable in redis-cli.
export const SAFE_ID = RUN_ID;

export function assertRunId(runId: string): void {
  if (!SAFE_ID.test(runId)) {
    throw new UserError(`run id ${JSON.stringify(runId)} cannot name a queue`, {
      hint: 'use letters, digits, "-" and "_" only, like 2026-11-21-sort-a1b2',
      fields: { runId },
    });
  }
}

export function assertPrefix(prefix: string): void {
  // `:` is allowed (it only nests the keyspace); a dot would make `<prefix>:runs` look like a queue.
  if (!/^[A-Za-z0-9][A-Za-z0-9_:{}-]*$/.test(prefix)) {
    throw new UserError(`queue prefix ${JSON.stringify(prefix)} is not usable`, { hint: 'use letters, digits, "-", "_" and ":"' });
  }
}

/** Measuring stages run one at a time per worker, so their timings are not disturbed. */
export function stageQueue(stage: StageKind): QueueRole {
  return stage === 'bench' || stage === 'holdout' ? 'bench' : 'work';
}

export function queueName(runId: string, role: QueueRole): string {
  assertRunId(runId);
  return `${runId}.${role}`;
}

/** The run a queue name belongs to, or undefined for a name that is not ours. */
export function runOfQueue(name: string): { runId: string; role: QueueRole } | undefined {
  const match = /^(.+)\.(work|bench)$/.exec(name);
  if (!match?.[1] || !SAFE_ID.test(match[1])) return undefined;
  return { runId: match[1], role: match[2] as QueueRole };
}

/** Deterministic, so enqueueing the same stage again (after a crash, on resume) is a no-op. */
export function stageJobId(runId: string, experiment: ExperimentId, stage: StageKind): string {
  assertRunId(runId);
  if (!SAFE_ID.test(experiment)) throw new UserError(`experiment id ${JSON.stringify(experiment)} cannot name a job`);
  return `${runId}.${experiment}.${stage}`;
}

/** Redis hash of the runs orchestrators are serving (run id → session); see registry.ts. */
export function registryKey(prefix: string): string {
  return `${prefix}:runs`;
}

/** Pub/sub channel on which producers tell workers to cancel a running job. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}

/**
 * Set before publishing a cancel, read by the worker when a job starts: covers a job taken
 * from the queue in the instant between the producer's check and its message.
 */
export function cancelMarkerKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:cancel:${queue}:${jobId}`;
}

/** The stream that carries a stage job's log from its worker to its orchestrator (queue/logs.ts). */
export function logStreamKey(prefix: string, jobId: string): string {
  return `${prefix}:log:${jobId}`;
}
