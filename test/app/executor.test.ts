import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerExecutor } from '../../src/app/executor.js';
import type { EvaluationRequest } from '../../src/core/types.js';
import { specSchema } from '../../src/spec/schema.js';
import { tempDir, writeTree } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function benchRuns(repeat: number, withParent: boolean): Promise<{ runs: string[]; samples: number }> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  const bench = 'echo "$RATCHET_SIDE" >> "$RUNS"; echo METRIC x=1';
  await writeTree(dir.path, { 'c/.keep': '', 'p/.keep': '', runs: '' });
  const spec = specSchema.parse({ objective: 'x', env: ['RUNS'], bench: { run: bench, metric: { name: 'x', goal: 'minimize' }, repeat } });
  const request: EvaluationRequest = {
    runId: 'r',
    experiment: 'e0001',
    worktree: join(dir.path, 'c'),
    commit: 'c',
    parentWorktree: withParent ? join(dir.path, 'p') : undefined,
    parentCommit: withParent ? 'p' : undefined,
    logDir: dir.path,
    spec,
    baseCommit: 'b',
  };
  process.env.RUNS = join(dir.path, 'runs');
  try {
    const result = await createWorkerExecutor()(request, 'bench', new AbortController().signal);
    const runs = (await readFile(join(dir.path, 'runs'), 'utf8')).split('\n').filter((l) => l !== '');
    return { runs, samples: result.measurement!.samples.length };
  } finally {
    delete process.env.RUNS;
  }
}

describe("the worker's bench", () => {
  it('runs a deterministic bench (repeat: 1) exactly once', async () => {
    expect(await benchRuns(1, false)).toEqual({ runs: ['candidate'], samples: 1 });
  });

  it('runs a baseline with no parent exactly repeat times', async () => {
    expect(await benchRuns(3, false)).toEqual({ runs: ['candidate', 'candidate', 'candidate'], samples: 3 });
  });
});
