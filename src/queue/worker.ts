/**
 * The worker: BullMQ Workers on a run's `work` and `bench` queues, calling the stage executor
 * with a signal that fires when the orchestrator cancels the job, when the worker stops, or
 * when the job's lock is lost. `ratchet run` serves its own run in-process; `ratchet worker`
 * serves every run in the registry, following it as runs come and go.
 */
import { mkdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortedError } from '../domain/errors.js';
import { type RedisOptions, connectRedis, workerRedisOptions } from './connection.js';
import { DEFAULT_PREFIX, QUEUE_ROLES, type QueueRole, assertPrefix, assertRunId, cancelChannel, cancelMarkerKey, logStreamKey, queueName, stageJobId, stageQueue } from './names.js';
import { LogShipper } from './logs.js';
import { CANCELLED, INTERRUPTED, LOCK_LOST, SUPERSEDED, parseCancelMessage, readJob, signReply } from './protocol.js';
import type { StageJobData, StageReply } from '../domain/job.js';
import { registeredRuns, runSession } from './registry.js';
import type { StageExecutor } from '../eval/stages.js';
import type { StageResult } from '../domain/job.js';

/**
 * A bench runs for minutes, but its lock is renewed every lockDuration / 2 while the worker
 * lives, so the lock length does not bound a stage's length. What it bounds is how soon the job
 * of a dead worker is run again: the lock expires at most lockDuration after the worker died, and
 * the next stall check (every stalledInterval, by any live worker) puts the job back, so another
 * worker starts it within 32 s. A renewal may come up to 12 s late (an event loop held up on a
 * machine saturated by the bench itself) before the job is wrongly taken as stalled, which would
 * run the same bench twice at once and spoil both timings.
 * One stall is forgiven (a worker died); a second means the job kills workers, so it fails.
 */
export const LOCK_SETTINGS = { lockDuration: 24_000, stalledInterval: 8_000, maxStalledCount: 1 } as const;

export interface StartWorkerOptions {
  connection: RedisOptions;
  /** The key jobs are signed with (`RATCHET_KEY`); the worker signs its results with it too. */
  key: Buffer;
  executor: StageExecutor;
  /** The runs to serve, or `registered` to serve every run in the registry as it changes. */
  runs: readonly string[] | 'registered';
  prefix?: string;
  /** Parallel setup/check jobs per run. */
  concurrency?: number;
  /**
   * Bench slots: how many bench (and holdout) jobs this process runs at once, across every run
   * it serves (default 1, so timings are not disturbed). The slots of one name are one machine.
   */
  benchSlots?: number;
  /** What results and events call this worker (default the host name). */
  name?: string;
  /** How often the registry is read, in `registered` mode. */
  pollMs?: number;
  /** Stops the worker like `close()`. */
  signal?: AbortSignal;
  /**
   * The worker's own folder for stage logs (`<logRoot>/<run>/<exp>/<stage>.log`), sent on to the
   * orchestrator through Redis as they grow; default a folder in the system's temporary folder.
   */
  logRoot?: string;
  /** Redis and BullMQ errors that do not stop the worker (they retry), and refused jobs; no console in src/. */
  onError?: (error: Error) => void;
}

export interface RunningWorker {
  /** Run ids currently served. */
  runs(): string[];
  /** Read the registry now instead of at the next poll (`registered` mode). */
  refresh(): Promise<void>;
  /** Aborts in-flight stages (their processes are killed, the jobs go back to the queue) and disconnects. */
  close(): Promise<void>;
}

interface ServedRun {
  runId: string;
  /** Set before the Workers close, so a job fetched in that instant goes straight back. */
  closing: boolean;
  workers: Worker<unknown, StageReply>[];
}

export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  if (options.signal?.aborted === true) throw new AbortedError();
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  if (options.runs !== 'registered') options.runs.forEach(assertRunId);
  const client = await connectRedis(options.connection, 'worker');
  let subscriber: Redis;
  try {
    subscriber = await connectRedis(options.connection, 'worker');
  } catch (error) {
    client.disconnect();
    throw error;
  }
  const pool = new WorkerPool(options, prefix, client, subscriber);
  try {
    await pool.start();
  } catch (error) {
    await pool.close();
    throw error;
  }
  options.signal?.addEventListener('abort', () => void pool.close().catch(pool.onError), { once: true });
  return { runs: () => pool.runIds(), refresh: () => pool.refresh(), close: () => pool.close() };
}

class WorkerPool {
  readonly onError: (error: Error) => void;
  readonly workerName: string;
  private readonly logRoot: string;
  private readonly served = new Map<string, ServedRun>();
  private readonly byQueue = new Map<string, Worker<unknown, StageReply>>();
  private readonly benchSlots: Slots;
  /** What this worker's results say ran them. */
  private readonly name: string;
  private readonly badRunIds = new Set<string>();
  /** The executor takes its bench slot itself, after its worktrees are ready (eval/stage-results.ts). */
  private readonly lendsSlots: boolean;
  private syncing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: StartWorkerOptions,
    private readonly prefix: string,
    private readonly client: Redis,
    private readonly subscriber: Redis,
  ) {
    this.onError = options.onError ?? (() => undefined);
    this.benchSlots = new Slots(Math.max(1, options.benchSlots ?? 1));
    this.lendsSlots = options.executor.takesBenchSlot === true;
    this.name = options.name ?? hostname();
    // One process among the workers of a name: BullMQ's worker name, and where its logs go.
    this.workerName = `${this.name}-${process.pid}`;
    this.logRoot = options.logRoot ?? join(tmpdir(), `ratchet-worker-${process.pid}`);
    client.on('error', this.onError);
    subscriber.on('error', this.onError);
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (_channel: string, text: string) => {
      const message = parseCancelMessage(text);
      if (message !== undefined) this.byQueue.get(message.queue)?.cancelJob(message.jobId, CANCELLED);
    });
    await this.subscriber.subscribe(cancelChannel(this.prefix));
    if (this.options.runs === 'registered') {
      await this.refresh();
      this.timer = setInterval(() => void this.refresh().catch(this.onError), this.options.pollMs ?? 3000);
    } else {
      for (const runId of this.options.runs) await this.serve(runId);
    }
  }

  runIds(): string[] {
    return [...this.served.keys()].sort();
  }

  refresh(): Promise<void> {
    // Serialised, so two reads of the registry never start the same run's Workers twice.
    this.syncing = this.syncing.catch(() => undefined).then(() => this.sync());
    return this.syncing;
  }

  private async sync(): Promise<void> {
    if (this.closing !== undefined || this.options.runs !== 'registered') return;
    const wanted = new Set<string>();
    for (const runId of await registeredRuns(this.client, this.prefix)) {
      try {
        assertRunId(runId);
        wanted.add(runId);
      } catch (error) {
        if (!this.badRunIds.has(runId)) this.onError(error as Error);
        this.badRunIds.add(runId);
      }
    }
    for (const runId of wanted) if (!this.served.has(runId)) await this.serve(runId);
    for (const [runId, run] of this.served) if (!wanted.has(runId)) await this.stopServing(run);
  }

  private async serve(runId: string): Promise<void> {
    const run: ServedRun = { runId, closing: false, workers: [] };
    this.served.set(runId, run);
    for (const role of QUEUE_ROLES) {
      const name = queueName(runId, role);
      const worker = new Worker<unknown, StageReply>(name, this.processor(run, role), {
        connection: workerRedisOptions(this.options.connection),
        prefix: this.prefix,
        // Benches one per slot, so their timings do not disturb each other. An executor that takes
        // the slot itself once its worktrees are ready gets one more job per slot: the next
        // bench's checkout is made while this one runs, and the slot passes on without waiting.
        concurrency: role === 'bench' ? this.benchSlots.size * (this.lendsSlots ? 2 : 1) : Math.max(1, this.options.concurrency ?? 2),
        name: this.workerName,
        ...LOCK_SETTINGS,
      });
      worker.on('error', this.onError);
      // Another worker will take the job over: stop ours, or two benches would run at once.
      worker.on('lockRenewalFailed', (jobIds) => jobIds.forEach((id) => worker.cancelJob(id, LOCK_LOST)));
      run.workers.push(worker);
      this.byQueue.set(name, worker);
    }
    await Promise.all(run.workers.map((w) => w.waitUntilReady()));
  }

  private async stopServing(run: ServedRun): Promise<void> {
    run.closing = true;
    for (const worker of run.workers) worker.cancelAllJobs(INTERRUPTED);
    await Promise.all(run.workers.map((w) => w.close()));
    for (const worker of run.workers) this.byQueue.delete(worker.name);
    this.served.delete(run.runId);
  }

  private processor(run: ServedRun, role: QueueRole) {
    return async (job: Job<unknown, StageReply>, token: string | undefined, signal: AbortSignal | undefined): Promise<StageReply> => {
      if (run.closing) return requeue(job, token);
      const data = this.admit(job, run.runId, role);
      const abort = signal ?? new AbortController().signal;
      const marker = cancelMarkerKey(this.prefix, job.queueName, job.id ?? '');
      if ((await this.client.exists(marker)) === 1) throw new Error(CANCELLED);
      // A job of an earlier session would run in a worktree that may be gone or re-created.
      const owner = await runSession(this.client, run.runId, this.prefix);
      if (owner !== undefined && owner !== data.session) throw new Error(SUPERSEDED);

      const bench = stageQueue(data.stage) === 'bench';
      const release = bench && !this.lendsSlots ? await this.benchSlots.acquire(abort) : undefined;
      const lent = bench && this.lendsSlots ? () => this.benchSlots.acquire(abort) : undefined;
      let outcome: { ok: true; result: StageResult } | { ok: false; error: unknown } | undefined;
      const logDir = join(this.logRoot, run.runId, data.request.experiment);
      const logFile = join(logDir, `${data.stage}.log`);
      let shipper: LogShipper | undefined;
      try {
        await mkdir(logDir, { recursive: true, mode: 0o700 });
        shipper = new LogShipper(this.client, logStreamKey(this.prefix, job.id ?? ''), logFile, `worker ${this.workerName} at ${logFile}`, this.onError);
        await shipper.start();
        if (!abort.aborted) outcome = { ok: true, result: await this.options.executor(data.request, data.stage, abort, logDir, lent) };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        release?.();
      }
      // The whole log is in Redis before the result is: the orchestrator reads it to the end once the job completes.
      try {
        await shipper?.stop();
        await rm(logFile, { force: true });
      } catch (error) {
        this.onError(error as Error);
      }
      if (abort.aborted || outcome === undefined) {
        if (abort.reason === INTERRUPTED) return requeue(job, token);
        throw new Error(typeof abort.reason === 'string' ? abort.reason : CANCELLED);
      }
      if (!outcome.ok) throw outcome.error;
      return signReply(this.options.key, job.id ?? '', data, { ...outcome.result, worker: this.name });
    };
  }

  /**
   * The job's data if this worker may run it: well formed, signed with our key, and in the
   * place its orchestrator put it (a signed job copied to another run, queue or id is refused
   * too). Anything else fails the job with the reason, reported, and the worker goes on.
   */
  private admit(job: Job, runId: string, role: QueueRole): StageJobData {
    const checked = readJob(job.data, this.options.key);
    const reason = checked.ok ? misplaced(job, runId, role, checked.value) : checked.reason;
    if (checked.ok && reason === undefined) return checked.value;
    const message = `refused job ${String(job.id)} of ${job.queueName}: ${reason ?? ''}`;
    this.onError(new Error(message));
    // Unrecoverable: never retried, whatever attempts the job's writer asked for.
    throw new UnrecoverableError(message);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      await this.syncing.catch(() => undefined);
      await Promise.all([...this.served.values()].map((run) => this.stopServing(run)));
      await Promise.all([quit(this.subscriber), quit(this.client)]);
    })();
    return this.closing;
  }
}

/** Why a validly signed job is not where its orchestrator put it, if it is not. */
function misplaced(job: Job, runId: string, role: QueueRole, data: StageJobData): string | undefined {
  const { request, stage } = data;
  if (request.runId === runId && stageQueue(stage) === role && job.id === stageJobId(runId, request.experiment, stage)) return undefined;
  return `a signed ${stage} job of ${request.runId}/${request.experiment} moved to job ${String(job.id)} of ${job.queueName}`;
}

/** Puts an interrupted job back in the queue, unfinished, for whichever worker comes next. */
async function requeue(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** `size` holders at a time, first come first served; a waiter whose signal fires leaves the line. */
class Slots {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  acquire(signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        signal.removeEventListener('abort', leave);
        this.held += 1;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held -= 1;
          this.waiting.shift()?.();
        });
      };
      const leave = (): void => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(() => undefined);
      };
      if (this.held < this.size) {
        grant();
      } else {
        this.waiting.push(grant);
        signal.addEventListener('abort', leave, { once: true });
      }
    });
  }
}
