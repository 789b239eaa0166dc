/**
 * The worker's own worktrees, against real git: a request names commits and a repository, the
 * worker checks them out where it likes, the evaluator (protected files) from the base commit,
 * and a job it has no way to serve ends as a crash whose reason says why.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
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
import { countGitSpawns } from '../git/fixtures/git-spawns.js';

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
    expect(place.candidate).toContain(join('.git', 'ratchet', 'eval', 'test-host-1', 'pool-'));
    expect(place.parent).toContain(join('.git', 'ratchet', 'eval', 'test-host-1', 'pool-'));
    expect(place.parent).not.toBe(place.candidate);
    expect(git(place.candidate, 'rev-parse', 'HEAD')).toBe(candidate);
    expect(git(place.parent!, 'rev-parse', 'HEAD')).toBe(base);
    place.release({ unsandboxed: false });
    await checkouts.close();
    expect(existsSync(place.candidate)).toBe(false);
    expect(git(repo.path, 'worktree', 'list')).not.toContain('test-host-1');
  });

  it('hands a worktree on with its files, uncleaned and with a new .git link, when the spec reuses setup (setup.inputs)', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-5', keep: 1, spare: 0 });
    const withInputs = (experiment: string) =>
      request({ experiment, spec: specSchema.parse({ objective: 'x', setup: { run: 'true', inputs: ['src/a.txt'] }, bench: { run: 'true', metric: { name: 'score', goal: 'maximize' } } }) });
    try {
      const first = await checkouts.open(withInputs('e0001'), never);
      if (!first.ok) throw new Error(first.reason);
      expect(first.place.carried.size).toBe(0);
      const path = first.place.candidate;
      await writeTree(path, { 'node_modules/dep.js': 'x\n' });
      const link = statSync(join(path, '.git')).ino;
      first.place.release({ unsandboxed: false });
      const second = await checkouts.open(withInputs('e0002'), never);
      if (!second.ok) throw new Error(second.reason);
      expect(second.place.candidate).toBe(path);
      expect([...second.place.carried]).toEqual([path]);
      expect(second.place.fresh.size).toBe(0);
      expect(existsSync(join(path, 'node_modules', 'dep.js'))).toBe(true);
      expect(statSync(join(path, '.git')).ino).not.toBe(link);
      second.place.release({ unsandboxed: false });
      // Without inputs the move cleans as ever.
      const third = await checkouts.open(request({ experiment: 'e0003' }), never);
      if (!third.ok) throw new Error(third.reason);
      expect([third.place.candidate, third.place.carried.size, third.place.fresh.has(path)]).toEqual([path, 0, true]);
      expect(existsSync(join(path, 'node_modules'))).toBe(false);
      third.place.release({ unsandboxed: false });
    } finally {
      await checkouts.close();
    }
  });

  it('keeps an experiment its worktree between stages, and moves an idle one to the next experiment once enough are idle', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-2', keep: 2, spare: 1 });
    const open = async (experiment: string, commit = candidate): Promise<string> => {
      const opened = await checkouts.open(request({ experiment, commit }), never);
      if (!opened.ok) throw new Error(opened.reason);
      opened.place.release({ unsandboxed: false });
      return opened.place.candidate;
    };
    try {
      const first = await open('e0001');
      const second = await open('e0002');
      expect(second).not.toBe(first);
      // The same experiment again (its next stage) finds its own worktree.
      expect(await open('e0001')).toBe(first);
      // What a stage left in it: an untracked file, an ignored one, a changed tracked file.
      await writeTree(first, { 'junk.txt': 'x\n', 'src/a.txt': 'forged\n', '.gitignore': 'out/\n', 'out/cache.bin': 'y\n' });
      // Two idle: the least recently used (e0002's) moves to e0003, at its commit and clean.
      const third = await open('e0003', base);
      expect(third).toBe(second);
      expect(git(third, 'rev-parse', 'HEAD')).toBe(base);
      expect(git(third, 'status', '--porcelain', '--ignored')).toBe('');
      // Then e0001's, with everything its stage left gone.
      const fourth = await open('e0004', base);
      expect(fourth).toBe(first);
      expect(git(fourth, 'status', '--porcelain', '--ignored')).toBe('');
      expect(await readFile(join(fourth, 'src', 'a.txt'), 'utf8')).toBe('a\n');
      expect(git(repo.path, 'worktree', 'list').split('\n').filter((l) => l.includes('test-host-2'))).toHaveLength(2);
    } finally {
      await checkouts.close();
    }
  });

  it('never moves a worktree in which a command ran outside the sandbox to another experiment: it is removed', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-3', keep: 1, spare: 0 });
    try {
      const opened = await checkouts.open(request({ experiment: 'e0001' }), never);
      if (!opened.ok) throw new Error(opened.reason);
      const tainted = opened.place.candidate;
      // Outside the sandbox a command can write the worktree's index, so a move could leave its files behind.
      opened.place.release({ unsandboxed: true });
      const next = await checkouts.open(request({ experiment: 'e0002' }), never);
      if (!next.ok) throw new Error(next.reason);
      expect(next.place.candidate).not.toBe(tainted);
      next.place.release({ unsandboxed: false });
      await waitFor(() => !existsSync(tainted), 20_000, 'the tainted worktree to be removed');
    } finally {
      await checkouts.close();
    }
  });

  it('replaces a pooled worktree whose admin folder a stage added to, instead of moving it', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-4', keep: 1, spare: 0 });
    try {
      const opened = await checkouts.open(request({ experiment: 'e0001' }), never);
      if (!opened.ok) throw new Error(opened.reason);
      const first = opened.place.candidate;
      opened.place.release({ unsandboxed: false });
      // A per-worktree config git would obey in it: not what git keeps there for a detached worktree.
      const admin = (await readFile(join(first, '.git'), 'utf8')).replace(/^gitdir: /, '').trim();
      await writeTree(admin, { 'config.worktree': '[core]\n\tfsmonitor = true\n' });
      const next = await checkouts.open(request({ experiment: 'e0002' }), never);
      if (!next.ok) throw new Error(next.reason);
      expect(next.place.candidate).not.toBe(first);
      expect(existsSync(first)).toBe(false);
      expect(git(next.place.candidate, 'rev-parse', 'HEAD')).toBe(candidate);
      next.place.release({ unsandboxed: false });
    } finally {
      await checkouts.close();
    }
  });

  it('asks the repository once whether it holds a commit: a commit found stays found', async () => {
    const checkouts = new WorkerCheckouts({ owner: 'test-host-5' });
    try {
      const first = await checkouts.open(request({ experiment: 'e0001' }), never);
      if (!first.ok) throw new Error(first.reason);
      first.place.release({ unsandboxed: false });
      // Were it asked again, the missing HEAD would make this repository unusable.
      await rm(join(repo.path, '.git', 'HEAD'));
      const second = await checkouts.open(request({ experiment: 'e0001' }), never);
      expect(second.ok).toBe(true);
      if (second.ok) second.place.release({ unsandboxed: false });
      await writeTree(join(repo.path, '.git'), { HEAD: 'ref: refs/heads/main\n' });
    } finally {
      await checkouts.close();
    }
  });

  it('looks only for the commits it has not found before: the base, the same for a whole run, once', async () => {
    // Packed, as a user's base commit usually is: only git can find it there.
    git(repo.path, 'repack', '-adq');
    git(repo.path, 'commit', '-q', '--allow-empty', '-m', 'next candidate');
    const next = git(repo.path, 'rev-parse', 'HEAD');
    const checkouts = new WorkerCheckouts({ owner: 'test-host-6' });
    const spawns = await countGitSpawns();
    const lookups = async (): Promise<number> => (await spawns.take()).filter((args) => args.includes('cat-file')).length;
    try {
      for (const [experiment, commit] of [['e0001', candidate], ['e0002', next]] as const) {
        const opened = await checkouts.open(request({ experiment, commit }), never);
        if (!opened.ok) throw new Error(opened.reason);
        opened.place.release({ unsandboxed: false });
        // The first asks git once for both packed commits; the second finds its loose commit itself.
        expect(await lookups()).toBe(experiment === 'e0001' ? 1 : 0);
      }
    } finally {
      await spawns.stop();
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
