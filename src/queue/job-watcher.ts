/**
 * Waits for jobs of one queue to finish. QueueEvents delivers `completed` / `failed` promptly;
 * the job's state is read right after a waiter subscribes (the job may have finished before)
 * and then every `pollMs`, which also covers events missed while a connection was down.
 * `job.waitUntilFinished` is not used: it does not survive a restart of either side.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { AbortedError } from '../domain/errors.js';

export type Settled = { kind: 'completed'; value: unknown } | { kind: 'failed'; reason: string } | { kind: 'missing' };

interface Waiter {
  settle(settled: Settled): void;
  fail(error: Error): void;
}

export class JobWatcher {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed = false;

  constructor(
    private readonly queue: Queue,
    events: QueueEvents,
    private readonly pollMs: number,
    private readonly onError: (error: Error) => void,
  ) {
    // One listener per event for all waiters: a listener per waiter would trip Node's leak warning.
    events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, { kind: 'completed', value: returnvalue }));
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, { kind: 'failed', reason: failedReason }));
    events.on('removed', ({ jobId }) => this.settle(jobId, { kind: 'missing' }));
    events.on('error', onError);
  }

  /** The job's end; rejects with AbortedError when `signal` fires or the watcher closes first. */
  wait(jobId: string, signal: AbortSignal): Promise<Settled> {
    return new Promise((resolve, reject) => {
      if (this.closed || signal.aborted) {
        reject(new AbortedError());
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (): void => {
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const set = this.waiters.get(jobId);
        set?.delete(waiter);
        if (set?.size === 0) this.waiters.delete(jobId);
      };
      const waiter: Waiter = {
        settle: (settled) => {
          finish();
          resolve(settled);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(new AbortedError());
      signal.addEventListener('abort', onAbort, { once: true });
      const set = this.waiters.get(jobId) ?? new Set<Waiter>();
      set.add(waiter);
      this.waiters.set(jobId, set);

      const poll = async (): Promise<void> => {
        const settled = await this.check(jobId).catch((error: unknown) => {
          this.onError(error instanceof Error ? error : new Error(String(error)));
          return undefined;
        });
        if (done) return;
        if (settled !== undefined) waiter.settle(settled);
        else timer = setTimeout(() => void poll(), this.pollMs);
      };
      void poll();
    });
  }

  /** Rejects every pending wait: nothing will settle them once the events stop. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.fail(new AbortedError('the evaluation queue closed'));
  }

  private settle(jobId: string, settled: Settled): void {
    for (const waiter of [...(this.waiters.get(jobId) ?? [])]) waiter.settle(settled);
  }

  private async check(jobId: string): Promise<Settled | undefined> {
    const state = await this.queue.getJobState(jobId);
    if (state === 'unknown') return { kind: 'missing' };
    if (state !== 'completed' && state !== 'failed') return undefined;
    const job = await this.queue.getJob(jobId);
    if (job === undefined) return { kind: 'missing' };
    return state === 'completed' ? { kind: 'completed', value: job.returnvalue } : { kind: 'failed', reason: job.failedReason };
  }
}
