/**
 * The evaluation queue over BullMQ: each stage of a request is a job with a deterministic id,
 * so asking again (after a crash, on resume) finds the job that is queued, running or done
 * instead of running it twice. Stages run in order, and a stage that does not pass ends the
 * evaluation: checks that fail mean no bench.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { InternalError, throwIfAborted } from '../domain/errors.js';
import type { Evaluation, EvaluationQueue, EvaluationRequest, StageKind, StageProgress } from '../domain/evaluation.js';
import { type RedisOptions, connectRedis, producerRedisOptions, workerRedisOptions } from './connection.js';
import { JobWatcher, type Settled } from './job-watcher.js';
import { DEFAULT_PREFIX, QUEUE_ROLES, type QueueRole, assertPrefix, cancelChannel, cancelMarkerKey, logStreamKey, queueName, stageJobId, stageQueue } from './names.js';
import { LogReceiver } from './logs.js';
import { STAGES } from '../domain/job.js';
import { CANCELLED, SUPERSEDED, readJob, readReply, sameRequest, signJob, sourceKey } from './protocol.js';
import { type StageJobData, type StageReply, crashedStage, stagePassed } from '../domain/job.js';
import { registerRun, unregisterRun } from './registry.js';
import { SharedCalls } from './shared-calls.js';
import { resultWithoutJob } from '../plan/stage-work.js';
import type { StageResult } from '../domain/job.js';

/** Folds the stages that ran into one evaluation: `combineStages` from src/plan/combine.ts. */
export type CombineStages = (results: StageResult[]) => Evaluation;

export interface BullEvaluationQueueOptions {
  connection: RedisOptions;
  /** Signs every job and checks every result (`RATCHET_KEY`, or a session's own for a private Redis). */
  key: Buffer;
  /** Folds the stages into an evaluation: `combineStages` from src/plan/combine.ts. */
  combine: CombineStages;
  prefix?: string;
  /** Backstop poll of a job's state, should an event be missed. */
  pollMs?: number;
  /** How long finished jobs stay in Redis for a resumed run to reuse (default 7 days, 10 000 jobs). */
  keep?: { ageS: number; count: number };
  /** Redis errors that are retried rather than thrown; no console in src/. */
  onError?: (error: Error) => void;
  /**
   * The folder of the run folder that receives a request's stage logs (`setup.log`, …), which the
   * workers send through Redis (queue/logs.ts); without it, the logs stay in Redis.
   */
  logFolder?: (request: EvaluationRequest) => string;
  /**
   * The server was started by this session (a private redis-server, new password): no worker of
   * an earlier session can reach it, so a job it left active is dead and is failed at once
   * instead of waiting for BullMQ's stall check to notice its lock expire.
   */
  freshServer?: boolean;
}

interface QueueSide {
  queue: Queue<StageJobData, StageReply>;
  events: QueueEvents;
  watcher: JobWatcher;
}
type RunQueues = Record<QueueRole, QueueSide>;

// A marker only has to outlive the instant between a job leaving the queue and its worker
// reading the marker; an hour also covers a worker paused on a loaded machine.
const CANCEL_MARKER_TTL_MS = 60 * 60 * 1000;
// Rounds of "enqueue, wait" before a stage that keeps vanishing or being cancelled is a crash.
const MAX_ROUNDS = 3;

export class BullEvaluationQueue implements EvaluationQueue {
  private readonly prefix: string;
  /** This orchestrator process; the owner of the runs it opens (registry.ts). */
  private readonly session = randomUUID();
  private readonly onError: (error: Error) => void;
  private redis: Promise<Redis> | undefined;
  private readonly runs = new Map<string, Promise<RunQueues>>();
  private readonly inflight = new SharedCalls<Evaluation>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: BullEvaluationQueueOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(this.prefix);
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Claims the run for this session and opens its queues. `evaluate` does it on first use;
   * call it before starting an in-process worker, so that the worker refuses (rather than runs)
   * the jobs an earlier session of the run left behind.
   */
  async open(runId: string): Promise<void> {
    await this.openRun(runId);
  }

  async evaluate(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    throwIfAborted(signal);
    if (this.closing !== undefined) throw new InternalError('evaluate() called on a closed evaluation queue');
    // Callers asking for the same evaluation at once share it; it stops when the last one aborts.
    const key = [request.runId, request.experiment, request.commit, request.parentCommit ?? '', sourceKey(request.source)].join('\n');
    return this.inflight.run(key, (shared) => this.evaluateOnce(request, shared, onProgress), signal);
  }

  private async evaluateOnce(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    const run = await this.openRun(request.runId);
    const stored = await this.storedResults(run, request);
    if (stored !== undefined) return this.options.combine(stored);
    const results: StageResult[] = [];
    for (const stage of STAGES) {
      onProgress?.({ stage, state: 'started' });
      // A finished setup is not reused here: later stages still have to run, in a worktree that
      // may have been re-created since (a resumed run re-creates its worktrees).
      const result = resultWithoutJob(request.spec, stage) ?? (await this.runStage(run[stageQueue(stage)], request, stage, signal, stage !== 'setup'));
      onProgress?.({ stage, state: 'finished', outcomes: result.outcomes, ...workerOf(result) });
      results.push(result);
      if (!stagePassed(result)) break;
    }
    return this.options.combine(results);
  }

  /**
   * The holdout stage, a job of its own on the bench queue (`<run>.<exp>.holdout`): a finished
   * one for the same commits is reused, so a resumed run does not measure it again.
   */
  async evaluateHoldout(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    throwIfAborted(signal);
    if (this.closing !== undefined) throw new InternalError('evaluateHoldout() called on a closed evaluation queue');
    const run = await this.openRun(request.runId);
    onProgress?.({ stage: 'holdout', state: 'started' });
    const result = await this.runStage(run[stageQueue('holdout')], request, 'holdout', signal, true);
    onProgress?.({ stage: 'holdout', state: 'finished', outcomes: result.outcomes, ...workerOf(result) });
    return this.options.combine([result]);
  }

  /** The whole evaluation from finished jobs (after a restart, on resume), if they hold all of it. */
  private async storedResults(run: RunQueues, request: EvaluationRequest): Promise<StageResult[] | undefined> {
    const results: StageResult[] = [];
    for (const stage of STAGES) {
      const without = resultWithoutJob(request.spec, stage);
      if (without !== undefined) {
        results.push(without);
        continue;
      }
      const jobId = stageJobId(request.runId, request.experiment, stage);
      const job = await run[stageQueue(stage)].queue.getJob(jobId);
      const data = job === undefined ? undefined : this.ownJob(job.data, request, stage);
      const reply = job === undefined || data === undefined ? undefined : readReply(job.returnvalue, jobId, data, this.options.key);
      if (job === undefined || reply?.ok !== true) return undefined;
      if ((await job.getState()) !== 'completed') return undefined;
      results.push(reply.value);
      if (!stagePassed(reply.value)) break;
    }
    return results;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const runs = await Promise.allSettled(this.runs.values());
      const sides = runs.flatMap((r) => (r.status === 'fulfilled' ? QUEUE_ROLES.map((role) => r.value[role]) : []));
      for (const side of sides) side.watcher.close();
      await Promise.allSettled(sides.flatMap((side) => [side.events.close(), side.queue.close()]));
      if (this.redis !== undefined) {
        const redis = await this.redis.catch(() => undefined);
        if (redis !== undefined) {
          for (const runId of this.runs.keys()) await unregisterRun(redis, runId, this.session, this.prefix).catch(this.onError);
          await redis.quit().catch(() => redis.disconnect());
        }
      }
    })();
    return this.closing;
  }

  private client(): Promise<Redis> {
    this.redis ??= connectRedis(this.options.connection, 'producer').then((redis) => redis.on('error', this.onError));
    return this.redis;
  }

  private openRun(runId: string): Promise<RunQueues> {
    let run = this.runs.get(runId);
    if (run === undefined) {
      run = this.createRun(runId);
      run.catch(() => this.runs.delete(runId)); // let a later call try again
      this.runs.set(runId, run);
    }
    return run;
  }

  private async createRun(runId: string): Promise<RunQueues> {
    const redis = await this.client();
    const keep = this.options.keep ?? { ageS: 7 * 24 * 3600, count: 10_000 };
    const side = async (role: QueueRole): Promise<QueueSide> => {
      const name = queueName(runId, role);
      const queue = new Queue<StageJobData, StageReply>(name, {
        connection: producerRedisOptions(this.options.connection),
        prefix: this.prefix,
        defaultJobOptions: {
          // A failing check is a result, not a job failure: only broken infrastructure fails a job,
          // and retrying a half-run bench would not make it trustworthy.
          attempts: 1,
          removeOnComplete: { age: keep.ageS, count: keep.count },
          removeOnFail: { age: keep.ageS, count: keep.count },
        },
      });
      queue.on('error', this.onError);
      // Read events from the stream's current end: every event after this instant is seen,
      // even one written before QueueEvents issues its first blocking read.
      const last = await redis.xrevrange(queue.keys.events ?? `${this.prefix}:${name}:events`, '+', '-', 'COUNT', 1);
      const events = new QueueEvents(name, {
        connection: workerRedisOptions(this.options.connection),
        prefix: this.prefix,
        lastEventId: last[0]?.[0] ?? '0-0',
      });
      const watcher = new JobWatcher(queue, events, this.options.pollMs ?? 5000, this.onError);
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      return { queue, events, watcher };
    };
    const [work, bench] = await Promise.all([side('work'), side('bench')]);
    await registerRun(redis, runId, this.session, this.prefix);
    return { work, bench };
  }

  private async runStage(side: QueueSide, request: EvaluationRequest, stage: StageKind, signal: AbortSignal, reuseFinished: boolean): Promise<StageResult> {
    const jobId = stageJobId(request.runId, request.experiment, stage);
    for (let round = 1; ; round++) {
      const data = await this.ensureJob(side, jobId, request, stage, signal, reuseFinished);
      const folder = this.options.logFolder?.(request);
      const log = folder === undefined ? undefined : new LogReceiver(await this.client(), logStreamKey(this.prefix, jobId), join(folder, `${stage}.log`), this.onError);
      log?.start();
      let settled: Settled;
      try {
        settled = await side.watcher.wait(jobId, signal);
      } catch (error) {
        log?.stop();
        if (signal.aborted) await this.cancel(side, jobId).catch(this.onError);
        throw error;
      }
      // The worker sent the whole log before it finished the job: read it to the end first.
      await log?.finish().catch(this.onError);
      if (settled.kind === 'completed') {
        // A result we cannot verify could fake a keep: it is a crash, with the reason.
        const reply = readReply(settled.value, jobId, data, this.options.key);
        return reply.ok ? reply.value : crashedStage(stage, `the ${stage} job's result was refused: ${reply.reason}`);
      }
      // A job cancelled for an earlier request, or one that vanished, is not an answer: ask again.
      const again = settled.kind === 'missing' || settled.reason === CANCELLED || settled.reason === SUPERSEDED;
      if (again && round < MAX_ROUNDS) continue;
      return crashedStage(stage, settled.kind === 'missing' ? `the ${stage} job vanished from the queue` : `the ${stage} job failed: ${settled.reason}`);
    }
  }

  /**
   * Makes sure the job for this request exists: reuses one that is queued, running or (when
   * `reuseFinished`) done for the same commits, and replaces a failed one or one left by an
   * earlier request for this experiment (re-applied on a newer best, so other commits), or one
   * we cannot verify (another key, e.g. an earlier session's own). Returns the job's data.
   */
  private async ensureJob(
    side: QueueSide,
    jobId: string,
    request: EvaluationRequest,
    stage: StageKind,
    signal: AbortSignal,
    reuseFinished: boolean,
  ): Promise<StageJobData> {
    const redis = await this.client();
    const marker = cancelMarkerKey(this.prefix, side.queue.name, jobId);
    for (let round = 0; round < 2 * MAX_ROUNDS; round++) {
      throwIfAborted(signal);
      const job = await side.queue.getJob(jobId);
      const state = job === undefined ? 'unknown' : await job.getState();
      if (job !== undefined && state !== 'unknown') {
        const data = this.ownJob(job.data, request, stage);
        // Results of any session stand; an unfinished job of an earlier session will be refused.
        const reusable =
          data !== undefined &&
          (state === 'completed' ? reuseFinished && readReply(job.returnvalue, jobId, data, this.options.key).ok : state !== 'failed' && data.session === this.session);
        if (data !== undefined && reusable) {
          await redis.del(marker); // an older abort must not cancel the job this request now wants
          return data;
        }
        if (state === 'active' && this.options.freshServer === true && data?.session !== this.session) {
          // Token "0": BullMQ's scripts skip the lock check; the lock's holder is gone.
          await job.moveToFailed(new Error(SUPERSEDED), '0');
          continue;
        }
        if (state === 'active') {
          // Still running for other commits: stop it, wait for it to end, then replace it.
          await this.cancel(side, jobId);
          await side.watcher.wait(jobId, signal);
          continue;
        }
        if ((await side.queue.remove(jobId)) === 0) continue; // taken by a worker meanwhile
      }
      // A new job starts a new log: chunks of an earlier one must not land in it.
      await redis.del(marker, logStreamKey(this.prefix, jobId));
      const data = signJob(this.options.key, { stage, request, session: this.session });
      await side.queue.add(stage, data, { jobId });
      return data;
    }
    throw new InternalError(`job ${jobId} keeps changing state; cannot enqueue it`, { jobId });
  }

  /** A stored job's data when it is signed with our key and asks for this very request. */
  private ownJob(stored: unknown, request: EvaluationRequest, stage: StageKind): StageJobData | undefined {
    const checked = readJob(stored, this.options.key);
    return checked.ok && sameRequest(checked.value, request, stage) ? checked.value : undefined;
  }

  /** Removes the job if it is still queued; otherwise tells the worker running it to stop. */
  private async cancel(side: QueueSide, jobId: string): Promise<void> {
    const state = await side.queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed' || state === 'unknown') return;
    if (state !== 'active' && (await side.queue.remove(jobId)) === 1) return;
    const redis = await this.client();
    // Marker first: a worker that takes the job after the message went out still sees it.
    await redis.set(cancelMarkerKey(this.prefix, side.queue.name, jobId), '1', 'PX', CANCEL_MARKER_TTL_MS);
    await redis.publish(cancelChannel(this.prefix), JSON.stringify({ queue: side.queue.name, jobId }));
  }
}

/** The worker a stage result names, for the progress event. */
function workerOf(result: StageResult): { worker?: string } {
  return result.worker === undefined ? {} : { worker: result.worker };
}
