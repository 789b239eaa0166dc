import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunner, createWorkerExecutor, processRedactor } from '../../src/app/compose.js';
import { fixedCheckouts } from '../../src/testing/fixed-checkouts.js';
import type { EvaluationRequest } from '../../src/domain/evaluation.js';
import { specSchema } from '../../src/domain/spec.js';
import { git, gitdir, tempDir, writeTree } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function benchRuns(repeat: number, withParent: boolean): Promise<{ runs: string[]; samples: number }> {
  const repo = await gitdir({ 'bench.sh': 'echo "$RATCHET_SIDE" >> "$RUNS"; echo METRIC x=1\n' });
  const dir = await tempDir();
  cleanups.push(repo.cleanup, dir.cleanup);
  const head = git(repo.path, 'rev-parse', 'HEAD');
  // Linked worktrees, as the worker is given; the runs file is outside them, so no sandbox here.
  for (const name of ['c', 'p']) git(repo.path, 'worktree', 'add', '--quiet', '--detach', join(dir.path, name), head);
  await writeTree(dir.path, { runs: '' });
  const spec = specSchema.parse({ objective: 'x', sandbox: 'none', env: ['RUNS'], bench: { run: 'sh bench.sh', metric: { name: 'x', goal: 'minimize' }, repeat } });
  const request: EvaluationRequest = {
    runId: 'r',
    experiment: 'e0001',
    commit: head,
    parentCommit: withParent ? head : undefined,
    spec,
    baseCommit: head,
    source: { kind: 'local', gitDir: join(repo.path, '.git') },
  };
  const checkouts = fixedCheckouts({ gitDir: join(repo.path, '.git'), candidate: join(dir.path, 'c'), parent: join(dir.path, 'p') });
  process.env.RUNS = join(dir.path, 'runs');
  try {
    const result = await createWorkerExecutor(createRunner(processRedactor()), checkouts)(request, 'bench', new AbortController().signal, join(dir.path, 'logs'));
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
