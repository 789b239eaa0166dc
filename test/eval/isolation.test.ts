/**
 * Stage isolation with real git and real processes: each stage starts from the committed tree
 * plus setup's outputs, and what a stage does beyond its worktree is undone and rejected.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EvaluationRequest } from '../../src/domain/evaluation.js';
import { combineStages } from '../../src/plan/combine.js';
import { createStageExecutor } from '../../src/eval/stages.js';
import type { StageResult } from '../../src/domain/job.js';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { fixedCheckouts } from '../../src/testing/fixed-checkouts.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { specSchema, type SpecInput } from '../../src/domain/spec.js';
import { git, gitdir } from '../helpers/gitdir.js';

const FILES = {
  '.gitignore': 'node_modules/\n',
  'bench.sh': 'sh src/work.sh\n',
  'src/work.sh': 'echo "METRIC x=5"\n',
};

let repo: { path: string; cleanup: () => Promise<void> };
let worktree: string;
let head: string;
let gitDir: string;

beforeEach(async () => {
  repo = await gitdir(FILES);
  gitDir = join(repo.path, '.git');
  head = git(repo.path, 'rev-parse', 'HEAD');
  worktree = join(gitDir, 'ratchet', 'worktrees', 'run', 'e0001');
  await mkdir(join(worktree, '..'), { recursive: true });
  git(repo.path, 'worktree', 'add', '--quiet', '--detach', worktree, head);
});
afterEach(async () => {
  await repo.cleanup();
});

const never = new AbortController().signal;
const logDir = (): string => join(repo.path, '..', `${repo.path.split('/').at(-1)}-logs`);

function request(spec: Partial<SpecInput>): EvaluationRequest {
  return {
    runId: 'run',
    experiment: 'e0001',
    commit: head,
    parentCommit: undefined,
    spec: specSchema.parse({ objective: 'x', protected: ['bench.sh'], bench: { run: 'sh bench.sh', metric: { name: 'x', goal: 'maximize' } }, ...spec }),
    baseCommit: head,
    source: { kind: 'local', gitDir },
  };
}

async function evaluate(spec: Partial<SpecInput>): Promise<{ results: StageResult[]; log: (name: string) => Promise<string> }> {
  const execute = createStageExecutor(new ExecaCommandRunner({ killGraceMs: 300 }), new GitCheckoutGuard(), fixedCheckouts({ gitDir, candidate: worktree }));
  const req = request(spec);
  const results: StageResult[] = [];
  for (const stage of ['setup', 'checks', 'bench'] as const) {
    const result = await execute(req, stage, never, logDir());
    results.push(result);
    if (!result.outcomes.every((o) => o.status === 'ok' || o.status === 'skipped')) break;
  }
  return { results, log: (name) => readFile(join(logDir(), name), 'utf8') };
}

describe.each(['none', 'bwrap'] as const)('stage isolation with sandbox: %s', (sandbox) => {
  it('gives the bench the committed tree, not what the checks wrote', async () => {
    const checks = [{ name: 'poison', run: 'echo "echo METRIC x=999" > src/work.sh; echo x > src/extra.sh' }];
    const { results } = await evaluate({ sandbox, checks, bench: { run: '[ -e src/extra.sh ] && echo "METRIC x=0" || sh bench.sh', metric: { name: 'x', goal: 'maximize' } } });
    expect(combineStages(results)).toMatchObject({ status: 'ok', measurement: { metric: 5 } });
    expect(await readFile(join(worktree, 'src/work.sh'), 'utf8')).toBe(FILES['src/work.sh']);
  });

  it("gives the bench setup's outputs as setup made them, setting up again when a check changed them", async () => {
    const setup = 'mkdir -p node_modules && echo real > node_modules/dep.txt';
    const checks = [{ name: 'poison', run: 'echo fake > node_modules/dep.txt' }];
    const bench = { run: 'echo "METRIC x=$(grep -c real node_modules/dep.txt)"', metric: { name: 'x', goal: 'maximize' as const } };
    const { results, log } = await evaluate({ sandbox, setup, checks, bench });
    expect(combineStages(results)).toMatchObject({ status: 'ok', measurement: { metric: 1 } });
    expect(await log('bench.log')).toContain("setup's outputs in the candidate worktree changed (node_modules/dep.txt): setting it up again");
  });

  it('starts setup from the committed tree, without what was left in the worktree', async () => {
    await mkdir(join(worktree, 'node_modules'), { recursive: true });
    await writeFile(join(worktree, 'node_modules', 'planted.txt'), 'planted by the agent\n');
    const { results } = await evaluate({ sandbox, bench: { run: 'echo "METRIC x=$(ls node_modules 2>/dev/null | wc -l)"', metric: { name: 'x', goal: 'maximize' } } });
    expect(combineStages(results).measurement?.metric).toBe(0);
  });
});

describe('stage isolation without the sandbox', () => {
  it('rejects a check that rewrites a protected file, names it, and puts it back', async () => {
    const checks = [{ name: 'rewrite', run: 'echo "echo METRIC x=999" > bench.sh' }];
    const { results } = await evaluate({ sandbox: 'none', checks });
    expect(combineStages(results)).toMatchObject({ status: 'rejected', reason: 'changed protected path bench.sh during checks' });
  });

  it('catches a bench that fakes the evaluator for the next run and restores it after', async () => {
    // Run 1 replaces the evaluator; run 2 (the fake) prints a great number and puts it back.
    const work = [
      'if [ -e .fake-done ]; then echo "METRIC x=5"; exit 0; fi',
      'if grep -q FAKE bench.sh; then :; else cp bench.sh .real; printf "%s\\n" "# FAKE" "cp .real bench.sh; touch .fake-done" "echo METRIC x=999" > bench.sh; fi',
      'echo "METRIC x=5"',
    ].join('\n');
    await writeFile(join(worktree, 'src/work.sh'), work);
    git(worktree, 'add', '-A');
    git(worktree, 'commit', '-qm', 'self-restoring fake');
    head = git(worktree, 'rev-parse', 'HEAD');
    const { results } = await evaluate({ sandbox: 'none', bench: { run: 'sh bench.sh', repeat: 3, metric: { name: 'x', goal: 'maximize' } } });
    expect(combineStages(results)).toMatchObject({ status: 'rejected' });
    expect(combineStages(results).reason).toContain('changed protected path bench.sh during bench');
  });

  it("puts back a branch, a HEAD and a hook the bench changed, and rejects the candidate for them", async () => {
    await writeFile(join(repo.path, 'later.txt'), 'x\n');
    git(repo.path, 'add', '-A');
    git(repo.path, 'commit', '-qm', 'later');
    const main = git(repo.path, 'rev-parse', 'main');
    const run = [
      `git update-ref refs/heads/main ${head}`,
      'git update-ref refs/heads/planted HEAD',
      `echo "ref: refs/heads/planted" > ${join(gitDir, 'HEAD')}`,
      `echo "#!/bin/sh" > ${join(gitDir, 'hooks', 'pre-commit')}`,
      'echo "METRIC x=5"',
    ].join('; ');
    const { results } = await evaluate({ sandbox: 'none', bench: { run, metric: { name: 'x', goal: 'maximize' } } });
    const evaluation = combineStages(results);
    expect(evaluation.status).toBe('rejected');
    expect(evaluation.reason).toBe('changed HEAD, created hooks/pre-commit, created refs/heads/planted, and 1 more in the repository during bench (put back)');
    expect(git(repo.path, 'rev-parse', 'main')).toBe(main);
    expect(git(repo.path, 'for-each-ref', 'refs/heads/planted')).toBe('');
    expect(git(repo.path, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    await expect(readFile(join(gitDir, 'hooks', 'pre-commit'))).rejects.toThrow(/ENOENT/);
  });

  it('rejects a check that deletes the worktree\'s .git link, and repairs the link', async () => {
    const { results } = await evaluate({ sandbox: 'none', checks: [{ name: 'unlink', run: 'rm .git' }] });
    expect(combineStages(results)).toMatchObject({ status: 'rejected', reason: "deleted or corrupted its worktree's git link (.git) during checks" });
    expect(git(worktree, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('says the worktree cannot be used when its admin folder is gone too', async () => {
    await rm(join(worktree, '.git'));
    await rm(join(gitDir, 'worktrees', 'e0001'), { recursive: true });
    const { results } = await evaluate({ sandbox: 'none', setup: 'true' });
    expect(combineStages(results).status).toBe('crash');
  });
});

describe('the protected mounts of a stage', () => {
  const tree = new Map<string, string>([
    ['bench', 'd:'],
    ['bench/run.js', 'f:'],
    ['eval', 'd:'],
    ...Array.from({ length: 300 }, (_, i) => [`eval/case-${i}.json`, 'f:'] as [string, string]),
    ['src', 'd:'],
    ['src/a.js', 'f:'],
    ['src/a.test.js', 'f:'],
  ]);

  it('makes a folder one mount when all it holds is protected, and protects the rest file by file', async () => {
    const { protectedMounts } = await import('../../src/eval/stage-sandbox.js');
    const mounts = protectedMounts('/w', tree, ['bench/**', 'eval/*.json', '**/*.test.js'], true).map((m) => m.path);
    expect(mounts).toEqual(['/w/bench', '/w/eval', '/w/src/a.test.js']);
  });

  it('finds the same mounts looking under the globs\' roots alone as across the whole tree, folders above a root included', async () => {
    const { protectedMounts } = await import('../../src/eval/stage-sandbox.js');
    const deep = new Map<string, string>([
      ['lib', 'd:'],
      ['lib/eval', 'd:'],
      ['lib/eval/a.json', 'f:'],
      ['lib/eval/b.json', 'f:'],
      ['tools', 'd:'],
      ['tools/eval', 'd:'],
      ['tools/eval/c.json', 'f:'],
      ['tools/run.js', 'f:'],
      ...Array.from({ length: 50 }, (_, i) => [`src/m${i}.js`, 'f:'] as [string, string]),
    ]);
    // lib holds nothing but protected files: one mount; tools holds run.js too: its eval folder is the mount.
    const rooted = protectedMounts('/w', deep, ['lib/eval/*.json', 'tools/eval/*.json'], true).map((m) => m.path);
    expect(rooted).toEqual(['/w/lib', '/w/tools/eval']);
    // The same globs spelled so that they have no root (a leading globstar) look at every path.
    const everywhere = protectedMounts('/w', deep, ['**/lib/eval/*.json', '**/tools/eval/*.json'], true).map((m) => m.path);
    expect(everywhere).toEqual(rooted);
  });

  it('binds files alone during setup, so setup may still add to a protected folder', async () => {
    const { protectedMounts } = await import('../../src/eval/stage-sandbox.js');
    expect(protectedMounts('/w', tree, ['bench/**', 'eval/*.json'], false)).toHaveLength(301);
  });
});
