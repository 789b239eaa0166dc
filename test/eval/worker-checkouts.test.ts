/**
 * The worker's own worktrees, against real git: a request names commits and a repository, the
 * worker checks them out where it likes, the evaluator (protected files) from the base commit,
 * and a job it has no way to serve ends as a crash whose reason says why.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EvaluationRequest } from '../../src/domain/evaluation.js';
import { specSchema } from '../../src/domain/spec.js';
import { createStageExecutor } from '../../src/eval/stages.js';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { WorkerCheckouts } from '../../src/git/eval-checkouts.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { waitFor } from '../helpers/cli.js';
import { git, gitdir, tempDir, writeTree } from '../helpers/gitdir.js';

let repo: { path: string; cleanup: () => Promise<void> };
let logs: { path: string; cleanup: () => Promise<void> };
let base: string;
let candidate: string;
beforeEach(async () => {
  repo = await gitdir({ 'bench/score.txt': '10\n', 'bench/run.sh': 'echo "METRIC score=$(cat bench/score.txt)"\n', 'src/a.txt': 'a\n' });
  logs = await tempDir('ratchet-worker-logs-');
  base = git(repo.path, 'rev-parse', 'HEAD');
  // A candidate that rewrote the evaluator's data to win (the gate would refuse it; a worker must not trust that).
  await writeTree(repo.path, { 'bench/score.txt': '99\n', 'bench/extra.sh': 'exit 0\n', 'src/a.txt': 'b\n' });
  git(repo.path, 'add', '-A');
  git(repo.path, 'commit', '-q', '-m', 'cheat');
  candidate = git(repo.path, 'rev-parse', 'HEAD');
});
afterEach(async () => {
  await repo.cleanup();
  await logs.cleanup();
});

const never = new AbortController().signal;

function request(overrides: Partial<EvaluationRequest> = {}): EvaluationRequest {
  return {
    runId: 'run-1',
    experiment: 'e0001',
    commit: candidate,
    parentCommit: undefined,
    spec: specSchema.parse({ objective: 'x', sandbox: 'none', protected: ['bench/**'], bench: { run: 'sh bench/run.sh; cat src/a.txt', metric: { name: 'score', goal: 'maximize' } } }),
    baseCommit: base,
    source: { kind: 'local', gitDir: join(repo.path, '.git') },
    ...overrides,
  };
}

describe("the worker's checkouts", () => {
  it('measures a candidate with the protected files of the base commit, even when the candidate changed them', async () => {
    const checkouts = new WorkerCheckouts();
    const execute = createStageExecutor(new ExecaCommandRunner(), new GitCheckoutGuard(), checkouts);
    try {
      for (const stage of ['setup', 'checks'] as const) expect((await execute(request(), stage, never, logs.path)).outcomes.every((o) => o.status === 'ok' || o.status === 'skipped')).toBe(true);
      const bench = await execute(request(), 'bench', never, logs.path);
      expect(bench.outcomes[0]?.status).toBe('ok');
      expect(bench.measurement?.metric).toBe(10);
      // The candidate's own change outside the protected paths is what gets measured.
      expect(await readFile(join(logs.path, 'bench.log'), 'utf8')).toContain('b\n');
    } finally {
      await checkouts.close();
    }
  });

  it("makes its worktrees itself, in the repository's ratchet folder, and removes them when it stops", async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-1' });
    const opened = await checkouts.open(request({ parentCommit: base }), never);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const { place } = opened;
    expect(place.candidate).toContain(join('.git', 'ratchet', 'eval', 'test-host-1', 'run-1', 'e0001'));
    expect(place.parent).toContain(join('run-1', `parent-${base.slice(0, 12)}`));
    expect(git(place.candidate, 'rev-parse', 'HEAD')).toBe(candidate);
    place.release();
    await checkouts.close();
    expect(existsSync(place.candidate)).toBe(false);
    expect(git(repo.path, 'worktree', 'list')).not.toContain('test-host-1');
  });

  it('keeps the most recently used worktrees between stages and removes the others', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-2', keep: 1 });
    const paths: string[] = [];
    try {
      for (const experiment of ['e0001', 'e0002', 'e0003']) {
        const opened = await checkouts.open(request({ experiment }), never);
        if (!opened.ok) throw new Error(opened.reason);
        paths.push(opened.place.candidate);
        opened.place.release();
      }
      // The removals run after the release.
      await waitFor(() => !existsSync(paths[0]!) && !existsSync(paths[1]!), 20_000, 'the idle worktrees to be removed');
      expect(existsSync(paths[2]!)).toBe(true);
      // The same experiment again reuses its worktree.
      const again = await checkouts.open(request({ experiment: 'e0003' }), never);
      expect(again.ok && again.place.candidate).toBe(paths[2]);
      if (again.ok) again.place.release();
    } finally {
      await checkouts.close();
    }
  });

  it('fails a job whose repository this machine cannot see and that names no remote, saying which', async () => {
    const execute = createStageExecutor(new ExecaCommandRunner(), new GitCheckoutGuard(), new WorkerCheckouts());
    const result = await execute(request({ source: { kind: 'local', gitDir: '/nowhere/on/this/machine/.git' } }), 'setup', never, logs.path);
    expect(result.outcomes).toMatchObject([{ stage: 'setup', status: 'crash' }]);
    expect(result.outcomes[0]?.reason).toMatch(/cannot serve the job: the run's repository \/nowhere\/on\/this\/machine\/\.git is not on this machine, and the run has no remote/);
  });

  it('fails a job whose commit the repository does not hold, naming the commit', async () => {
    const execute = createStageExecutor(new ExecaCommandRunner(), new GitCheckoutGuard(), new WorkerCheckouts());
    const result = await execute(request({ commit: 'f'.repeat(40) }), 'setup', never, logs.path);
    expect(result.outcomes[0]?.status).toBe('crash');
    expect(result.outcomes[0]?.reason).toContain(`does not hold commit ${'f'.repeat(40)}`);
  });
});
