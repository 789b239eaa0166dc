/**
 * Stage logs come back through Redis: what a worker's stage writes in the worker's own folder
 * lands in the orchestrator's folder for the experiment, whole, before the result is used;
 * stage events name the worker; a re-run of a job starts its log again.
 */
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StageProgress } from '../../src/domain/evaluation.js';
import type { StageExecutor } from '../../src/eval/stages.js';
import { BullEvaluationQueue } from '../../src/queue/bullmq-queue.js';
import { MAX_SHIPPED_LOG_BYTES } from '../../src/queue/logs.js';
import { startWorker } from '../../src/queue/worker.js';
import { tempDir } from '../helpers/gitdir.js';
import { testJobKey, testRedisSocket, uniquePrefix } from '../helpers/redis.js';
import { combine, newRunId, request, stageResult } from './support.js';

const connection = (): { path: string } => ({ path: testRedisSocket() });
const never = new AbortController().signal;

let prefix: string;
let cleanups: (() => Promise<void>)[] = [];
let runFolder: string;
let workerFolder: string;
beforeEach(async () => {
  prefix = uniquePrefix('logs');
  cleanups = [];
  const a = await tempDir('ratchet-run-folder-');
  const b = await tempDir('ratchet-worker-folder-');
  cleanups.push(a.cleanup, b.cleanup);
  runFolder = a.path;
  workerFolder = b.path;
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setUp(executor: StageExecutor): Promise<BullEvaluationQueue> {
  const worker = await startWorker({ connection: connection(), key: testJobKey(), prefix, runs: 'registered', pollMs: 100, executor, logRoot: workerFolder, name: 'far-away-1' });
  const queue = new BullEvaluationQueue({ connection: connection(), key: testJobKey(), prefix, combine, pollMs: 500, logFolder: (r) => join(runFolder, r.experiment) });
  cleanups.push(() => worker.close(), () => queue.close());
  return queue;
}

describe('stage logs through Redis', () => {
  it("writes every stage's log into the run folder, whole, and names the worker in each finished stage", async () => {
    const run = newRunId();
    const big = 'x'.repeat(700_000); // more than one chunk
    const queue = await setUp(async (req, stage, _signal, logDir) => {
      await appendFile(join(logDir, `${stage}.log`), `${stage} of ${req.experiment} starts\n`);
      if (stage === 'bench') await appendFile(join(logDir, 'bench.log'), `${big}\n`);
      await new Promise((r) => setTimeout(r, 700)); // a poll in the middle of the stage
      await appendFile(join(logDir, `${stage}.log`), `${stage} ends\n`);
      return stageResult(stage);
    });
    const progress: StageProgress[] = [];
    await mkdir(join(runFolder, 'e0001'));
    const evaluation = await queue.evaluate(request(run), never, (p) => progress.push(p));
    expect(evaluation.status).toBe('ok');
    for (const stage of ['setup', 'checks'] as const) {
      expect(await readFile(join(runFolder, 'e0001', `${stage}.log`), 'utf8')).toBe(`${stage} of e0001 starts\n${stage} ends\n`);
    }
    expect(await readFile(join(runFolder, 'e0001', 'bench.log'), 'utf8')).toBe(`bench of e0001 starts\n${big}\nbench ends\n`);
    expect(progress.filter((p) => p.state === 'finished').map((p) => p.worker)).toEqual(['far-away-1', 'far-away-1', 'far-away-1']);
  });

  it('caps what a stage ships and says where the rest is', async () => {
    const run = newRunId();
    const queue = await setUp(async (_req, stage, _signal, logDir) => {
      if (stage === 'bench') await appendFile(join(logDir, 'bench.log'), Buffer.alloc(MAX_SHIPPED_LOG_BYTES + 1000, 'y'));
      return stageResult(stage);
    });
    await mkdir(join(runFolder, 'e0001'));
    await queue.evaluate(request(run), never);
    const file = join(runFolder, 'e0001', 'bench.log');
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(MAX_SHIPPED_LOG_BYTES);
    expect(size).toBeLessThan(MAX_SHIPPED_LOG_BYTES + 500);
    const text = await readFile(file, 'utf8');
    expect(text.slice(-300)).toContain('the log is cut here');
    expect(text.slice(-300)).toContain('worker far-away-1');
  });
});
