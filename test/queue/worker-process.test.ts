import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BullEvaluationQueue } from '../../src/queue/bullmq-queue.js';
import { registerRun, registeredRuns, unregisterRun } from '../../src/queue/registry.js';
import { startWorker } from '../../src/queue/worker.js';
import { testJobKey, testRedisSocket, uniquePrefix } from '../helpers/redis.js';
import { combine, eventually, newRunId, recordingExecutor, request } from './support.js';

const fixture = fileURLToPath(new URL('./fixtures/registry-worker.ts', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function spawnWorker(prefix: string): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, RATCHET_TEST_REDIS_SOCKET: testRedisSocket(), RATCHET_TEST_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)}: ${output}`)));
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  return { child, output: () => output, ready };
}

describe('a worker in its own process', () => {
  it('finds a run through the registry and evaluates its stages', async () => {
    const prefix = uniquePrefix('proc');
    const run = newRunId();
    const worker = spawnWorker(prefix);
    await worker.ready;
    const queue = new BullEvaluationQueue({ connection: { path: testRedisSocket() }, key: testJobKey(), prefix, combine, pollMs: 500 });
    cleanups.push(() => queue.close());

    const evaluation = await queue.evaluate(request(run), new AbortController().signal);

    expect(evaluation.status).toBe('ok');
    expect(evaluation.stages.map((s) => s.reason)).toEqual(Array(3).fill(`served by pid ${String(worker.child.pid)}`));
    worker.child.kill('SIGTERM');
    const [code] = (await once(worker.child, 'exit')) as [number | null];
    expect(code, worker.output()).toBe(0);
  });
});

describe('the run registry', () => {
  it('starts serving a run when it is registered and stops when it leaves', async () => {
    const prefix = uniquePrefix('reg');
    const run = newRunId();
    const redis = new Redis({ path: testRedisSocket() });
    cleanups.push(async () => void (await redis.quit()));
    const worker = await startWorker({ connection: { path: testRedisSocket() }, key: testJobKey(), prefix, runs: 'registered', executor: recordingExecutor().executor, pollMs: 60_000 });
    cleanups.push(() => worker.close());

    await registerRun(redis, run, 'session-1', prefix);
    await worker.refresh();
    const served = worker.runs();
    await unregisterRun(redis, run, 'session-1', prefix);
    await worker.refresh();

    expect(served).toEqual([run]);
    expect(worker.runs()).toEqual([]);
    expect(await registeredRuns(redis, prefix)).toEqual([]);
  });

  it('lists a run while an evaluation queue uses it, and drops it when the queue closes', async () => {
    const prefix = uniquePrefix('reg');
    const run = newRunId();
    const redis = new Redis({ path: testRedisSocket() });
    cleanups.push(async () => void (await redis.quit()));
    const queue = new BullEvaluationQueue({ connection: { path: testRedisSocket() }, key: testJobKey(), prefix, combine });
    const controller = new AbortController();

    const pending = queue.evaluate(request(run), controller.signal).catch(() => undefined);
    await eventually(async () => (await registeredRuns(redis, prefix)).length > 0);
    const listed = await registeredRuns(redis, prefix);
    controller.abort();
    await pending;
    await queue.close();

    expect(listed).toEqual([run]);
    expect(await registeredRuns(redis, prefix)).toEqual([]);
  });
});
