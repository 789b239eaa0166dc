import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/domain/errors.js';
import type { StageKind } from '../../src/domain/evaluation.js';
import { BullEvaluationQueue } from '../../src/queue/bullmq-queue.js';
import { cancelMarkerKey } from '../../src/queue/names.js';
import { CANCELLED, SUPERSEDED, signJob } from '../../src/queue/protocol.js';
import type { StageExecutor } from '../../src/eval/stages.js';
import { type StartWorkerOptions, startWorker } from '../../src/queue/worker.js';
import { testJobKey, testRedisSocket, uniquePrefix } from '../helpers/redis.js';
import { alive, combine, eventually, newRunId, recordingExecutor, request, runUntilAborted, stageResult } from './support.js';

const connection = (): { path: string } => ({ path: testRedisSocket() });

let prefix: string;
let cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  prefix = uniquePrefix('queue');
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function openQueue(): BullEvaluationQueue {
  const queue = new BullEvaluationQueue({ connection: connection(), key: testJobKey(), prefix, combine, pollMs: 500 });
  cleanups.push(() => queue.close());
  return queue;
}

async function openWorker(runs: string[], executor: StageExecutor, extra: Partial<StartWorkerOptions> = {}) {
  const worker = await startWorker({ connection: connection(), key: testJobKey(), prefix, runs, executor, concurrency: 4, ...extra });
  cleanups.push(() => worker.close());
  return worker;
}

/** A plain BullMQ view of one run's queue, to look at job states directly. */
function inspect(queueName: string): Queue {
  const queue = new Queue(queueName, { connection: connection(), prefix });
  cleanups.push(() => queue.close());
  return queue;
}

const never = new AbortController().signal;

describe('BullEvaluationQueue with a worker', () => {
  it('runs setup, then checks, then bench, and combines their results', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);

    const evaluation = await openQueue().evaluate(request(run), never);

    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
    expect(evaluation.status).toBe('ok');
    expect(evaluation.stages.map((s) => s.stage)).toEqual(['setup', 'checks', 'bench']);
    expect(evaluation.measurement?.metric).toBe(42);
  });

  it('sends no job for a stage the spec gives nothing to run: no setup command, no checks', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);
    const bare = { ...request(run), spec: { ...request(run).spec, setup: undefined, checks: [] } };
    const queue = openQueue();

    const evaluation = await queue.evaluate(bare, never);

    expect(calls.map((c) => c.stage)).toEqual(['bench']);
    expect(evaluation.stages.map((s) => [s.stage, s.status, s.reason])).toEqual([
      ['setup', 'skipped', 'no setup command'],
      ['bench', 'ok', ''],
    ]);
    // After a restart the stored bench result is the whole evaluation: nothing runs again.
    const again = await openQueue().evaluate(bare, never);
    expect(again.stages.map((s) => s.stage)).toEqual(['setup', 'bench']);
    expect(calls).toHaveLength(1);
  });

  it('skips the bench when a check fails', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor((_, stage) => stageResult(stage, stage === 'checks' ? 'failed' : 'ok', 'test failed'));
    await openWorker([run], executor);

    const evaluation = await openQueue().evaluate(request(run), never);

    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks']);
    expect(evaluation.status).toBe('checks_failed');
    expect(evaluation.failureTail).toBe('checks said no');
  });

  it('runs each stage once when the same request is evaluated twice at once, or again later', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);
    const queue = openQueue();

    const [first, second] = await Promise.all([queue.evaluate(request(run), never), queue.evaluate(request(run), never)]);
    const third = await queue.evaluate(request(run), never);

    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
  });

  it('never runs a job that an earlier session of the run left queued', async () => {
    const run = newRunId();
    const before = openQueue();
    const lost = before.evaluate(request(run), never);
    const lostOutcome = expect(lost).rejects.toBeInstanceOf(AbortedError);
    const work = inspect(`${run}.work`);
    await eventually(async () => (await work.getJobState(`${run}.e0001.setup`)) === 'waiting');
    await before.close();
    await lostOutcome;

    const after = openQueue();
    await after.open(run);
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);
    await eventually(async () => (await work.getJobState(`${run}.e0001.setup`)) === 'failed');

    expect((await work.getJob(`${run}.e0001.setup`))?.failedReason).toBe(SUPERSEDED);
    expect(calls).toEqual([]);
    expect((await after.evaluate(request(run), never)).status).toBe('ok');
    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
  });

  it('keeps evaluating for a caller when another caller of the same request aborts', async () => {
    const run = newRunId();
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { calls, executor } = recordingExecutor();
    await openWorker([run], async (req, stage, signal, logDir) => {
      if (stage === 'checks') await gate;
      return executor(req, stage, signal, logDir);
    });
    const queue = openQueue();
    const quitter = new AbortController();

    const staying = queue.evaluate(request(run), never);
    const leaving = queue.evaluate(request(run), quitter.signal);
    await eventually(async () => (await inspect(`${run}.work`).getJobState(`${run}.e0001.checks`)) === 'active');
    quitter.abort();
    await expect(leaving).rejects.toBeInstanceOf(AbortedError);
    release();

    expect((await staying).status).toBe('ok');
    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
  });

  it('keeps runs that share one Redis apart, even with the same experiment ids', async () => {
    const runA = newRunId();
    const runB = newRunId();
    const { calls, executor } = recordingExecutor();
    await openWorker([runA], executor);
    const queue = openQueue();

    await queue.evaluate(request(runA), never);
    const pendingB = queue.evaluate(request(runB), never);
    await eventually(async () => (await inspect(`${runB}.work`).getJobState(`${runB}.e0001.setup`)) === 'waiting');

    expect(calls.every((c) => c.runId === runA)).toBe(true);
    await openWorker([runB], executor);
    expect((await pendingB).status).toBe('ok');
    expect(calls.filter((c) => c.runId === runB).map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
  });

  it('stops an in-flight stage on abort: the executor sees its signal and its process dies', async () => {
    const run = newRunId();
    let pid = 0;
    let ended: Promise<string> | undefined;
    await openWorker([run], (req, stage, signal) => {
      if (stage !== 'checks') return Promise.resolve(stageResult(stage));
      ended = runUntilAborted(signal, (p) => (pid = p));
      return ended.then(() => stageResult(stage, 'crash', 'killed'));
    });
    const controller = new AbortController();

    const evaluation = openQueue().evaluate(request(run), controller.signal);
    await eventually(() => pid > 0);
    controller.abort();

    await expect(evaluation).rejects.toBeInstanceOf(AbortedError);
    expect(await ended).toBe('aborted');
    expect(alive(pid)).toBe(false);
    const work = inspect(`${run}.work`);
    await eventually(async () => (await work.getJobState(`${run}.e0001.checks`)) === 'failed');
    expect((await work.getJob(`${run}.e0001.checks`))?.failedReason).toBe(CANCELLED);
  });

  it('cancels a stage that a worker takes after the cancel went out', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    const work = inspect(`${run}.work`);
    const jobId = `${run}.e0001.setup`;
    await work.add('setup', signJob(testJobKey(), { stage: 'setup', request: request(run), session: 'any' }), { jobId });
    const redis = new Redis(connection());
    await redis.set(cancelMarkerKey(prefix, `${run}.work`, jobId), '1');
    await redis.quit();

    await openWorker([run], executor);

    await eventually(async () => (await work.getJobState(jobId)) === 'failed');
    expect((await work.getJob(jobId))?.failedReason).toBe(CANCELLED);
    expect(calls).toEqual([]);
  });

  it('takes a queued stage off the queue on abort', async () => {
    const run = newRunId();
    const controller = new AbortController();
    const evaluation = openQueue().evaluate(request(run), controller.signal);
    const work = inspect(`${run}.work`);
    await eventually(async () => (await work.getJobState(`${run}.e0001.setup`)) === 'waiting');

    controller.abort();

    await expect(evaluation).rejects.toBeInstanceOf(AbortedError);
    expect(await work.getJobState(`${run}.e0001.setup`)).toBe('unknown');
  });

  it('returns the stored results after a restart without running anything again', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    const worker = await openWorker([run], executor);
    const before = openQueue();
    const first = await before.evaluate(request(run), never);
    await worker.close();
    await before.close();

    // New queue objects and no worker at all: only stored results can answer.
    const again = await openQueue().evaluate(request(run), never);

    expect(again).toEqual(first);
    expect(calls).toHaveLength(3);
  });

  it('prepares the worktree again after a restart that left later stages to run, reusing finished checks', async () => {
    const run = newRunId();
    const first = recordingExecutor();
    let benchStarted = false;
    const interrupted = await openWorker([run], (req, stage, signal, logDir) => {
      if (stage !== 'bench') return first.executor(req, stage, signal, logDir);
      benchStarted = true;
      return runUntilAborted(signal, () => undefined).then(() => stageResult(stage, 'crash', 'killed'));
    });
    const before = openQueue();
    const lost = before.evaluate(request(run), never);
    const lostOutcome = expect(lost).rejects.toBeInstanceOf(AbortedError);
    await eventually(() => benchStarted);
    await interrupted.close();
    await before.close();
    await lostOutcome;

    const after = openQueue();
    await after.open(run);
    const second = recordingExecutor();
    await openWorker([run], second.executor);
    const evaluation = await after.evaluate(request(run), never);

    expect(evaluation.status).toBe('ok');
    expect(second.calls.map((c) => c.stage)).toEqual(['setup', 'bench']);
  });

  it('evaluates an experiment again when it comes back with another commit', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);
    const queue = openQueue();

    await queue.evaluate(request(run, 'e0002', 'aaaa111'), never);
    await queue.evaluate(request(run, 'e0002', 'bbbb222'), never);

    expect(calls.map((c) => `${c.commit}:${c.stage}`)).toEqual([
      'aaaa111:setup', 'aaaa111:checks', 'aaaa111:bench',
      'bbbb222:setup', 'bbbb222:checks', 'bbbb222:bench',
    ]);
  });

  it('reports a stage whose executor throws as a crash, and runs it again on a new request', async () => {
    const run = newRunId();
    let broken = true;
    const { calls, executor } = recordingExecutor((_, stage) => {
      if (stage === 'setup' && broken) throw new Error('worktree is gone');
      return stageResult(stage);
    });
    await openWorker([run], executor);
    const queue = openQueue();

    const crashed = await queue.evaluate(request(run), never);
    broken = false;
    const fixed = await queue.evaluate(request(run), never);

    expect(crashed.status).toBe('crash');
    expect(crashed.reason).toContain('worktree is gone');
    expect(fixed.status).toBe('ok');
    expect(calls.map((c) => c.stage)).toEqual(['setup', 'setup', 'checks', 'bench']);
  });

  it('puts an interrupted stage back in the queue when its worker stops, and the next worker finishes it', async () => {
    const run = newRunId();
    let pid = 0;
    const stopped = await openWorker([run], (req, stage, signal) => {
      if (stage !== 'bench') return Promise.resolve(stageResult(stage));
      return runUntilAborted(signal, (p) => (pid = p)).then(() => stageResult(stage, 'crash', 'killed'));
    });
    const evaluation = openQueue().evaluate(request(run), never);
    await eventually(() => pid > 0);

    await stopped.close();

    expect(alive(pid)).toBe(false);
    expect(await inspect(`${run}.bench`).getJobState(`${run}.e0001.bench`)).toBe('waiting');
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor);
    expect((await evaluation).status).toBe('ok');
    expect(calls.map((c) => c.stage)).toEqual(['bench']);
  });

  it('runs benches one at a time in a worker process, even across runs', async () => {
    const runs = [newRunId(), newRunId()];
    let running = 0;
    let most = 0;
    await openWorker(runs, async (_, stage: StageKind) => {
      if (stage === 'bench') {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 150));
        running--;
      }
      return stageResult(stage);
    });
    const queue = openQueue();

    await Promise.all(runs.flatMap((run) => ['e0001', 'e0002'].map((exp) => queue.evaluate(request(run, exp), never))));

    expect(most).toBe(1);
  });

  it('lends its bench slot to an executor that takes it once ready: the next bench prepares meanwhile, and never two measure at once', async () => {
    const run = newRunId();
    let measuring = 0;
    let most = 0;
    const prepared: number[] = [];
    const measured: { from: number; to: number }[] = [];
    const executor: StageExecutor = async (_, stage, _signal, _logDir, benchSlot) => {
      if (stage !== 'bench') return stageResult(stage);
      await new Promise((r) => setTimeout(r, 50)); // its worktrees made ready
      prepared.push(Date.now());
      const giveBack = await benchSlot!();
      measuring++;
      most = Math.max(most, measuring);
      const from = Date.now();
      await new Promise((r) => setTimeout(r, 200));
      measured.push({ from, to: Date.now() });
      measuring--;
      giveBack();
      return stageResult(stage);
    };
    executor.takesBenchSlot = true;
    await openWorker([run], executor);
    const queue = openQueue();

    await Promise.all(['e0001', 'e0002', 'e0003'].map((exp) => queue.evaluate(request(run, exp), never)));

    expect(most).toBe(1);
    // The second bench was ready before the first had measured: the slot waited for no checkout.
    expect(prepared[1]!).toBeLessThan(measured[0]!.to);
  });

  it('runs as many benches at once as the worker has bench slots, and no more', async () => {
    const runs = [newRunId(), newRunId()];
    let running = 0;
    let most = 0;
    await openWorker(
      runs,
      async (_, stage: StageKind) => {
        if (stage === 'bench') {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 200));
          running--;
        }
        return stageResult(stage);
      },
      { benchSlots: 2 },
    );
    const queue = openQueue();

    await Promise.all(runs.flatMap((run) => ['e0001', 'e0002', 'e0003'].map((exp) => queue.evaluate(request(run, exp), never))));

    expect(most).toBe(2);
  });

  it('names the worker that ran each stage in the progress it reports', async () => {
    const runId = newRunId();
    await openWorker([runId], recordingExecutor().executor, { name: 'bench-box-7' });
    const queue = openQueue();
    const finished: { stage: string; worker: string | undefined }[] = [];

    await queue.evaluate(request(runId), never, (p) => {
      if (p.state === 'finished') finished.push({ stage: p.stage, worker: p.worker });
    });

    expect(finished).toEqual([
      { stage: 'setup', worker: 'bench-box-7' },
      { stage: 'checks', worker: 'bench-box-7' },
      { stage: 'bench', worker: 'bench-box-7' },
    ]);
  });
});
