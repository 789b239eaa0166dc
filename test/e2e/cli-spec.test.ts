import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { git, gitdir, tempDir, writeTree } from '../helpers/gitdir.js';
import { runCli } from '../helpers/cli.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

describe('ratchet run from the command line', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('reports every problem of a bad spec at once, with paths and lines, and runs nothing', async () => {
    const target = await makeTarget({
      'ratchet.yaml': 'objective: faster\nbench:\n  run: sh bench.sh\n  timeout: soon\n  metric: { name: score, goal: fastest }\nbudjet: { experiments: 3 }\n',
    });
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    const result = await runCli(['run', target.path, '--experiments', join(work.path, 'experiments'), '--redis', `redis+unix://${testRedisSocket()}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has 3 problems');
    expect(result.stderr).toMatch(/bench\.timeout: .*"soon".*\(line 4\)/);
    expect(result.stderr).toMatch(/bench\.metric\.goal: .*"minimize" \| "maximize".*\(line 5\)/);
    expect(result.stderr).toMatch(/budjet: unknown key \(did you mean "budget"\?\)/);
    expect(result.stderr).toContain('ratchet schema');
    expect(await readdir(join(work.path, 'experiments')).catch(() => [])).toEqual([]);
    expect(git(target.path, 'for-each-ref', 'refs/heads/ratchet/')).toBe('');
  }, 60_000);

  it('runs a repository without a spec from flags alone, and init writes the same spec', async () => {
    const target = await makeTarget();
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    git(target.path, 'rm', '-q', 'ratchet.yaml');
    git(target.path, 'commit', '-qm', 'no spec');
    await writePatches(join(work.path, 'patches'), { '01.patch': replaceLinePatch('value.txt', '10', '9', 'lower to 9') });
    const flags = ['--objective', 'lower the score', '--bench', 'sh bench.sh', '--metric', 'score', '--goal', 'minimize', '--check', 'test -e value.txt', '--editable', 'value.txt'];
    const run = await runCli(['run', target.path, ...flags, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', join(work.path, 'experiments'), '--redis', `redis+unix://${testRedisSocket()}`, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ baseline: 10, best: { metric: 9 }, counts: { keep: 1 } });

    const init = await runCli(['init', target.path, ...flags.filter((f) => f !== '--editable' && f !== 'value.txt')]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('wrote');
  }, 120_000);

  it('names the missing flags together when there is no spec', async () => {
    const repo = await gitdir({ 'a.txt': 'a\n' });
    cleanups.push(repo.cleanup);
    const result = await runCli(['run', repo.path, '--metric', 'score']);
    expect(result.code).toBe(2);
    for (const flag of ['--objective', '--bench', '--goal']) expect(result.stderr).toContain(`${flag}: required when there is no ratchet.yaml`);
  }, 60_000);

  it('init proposes python3 -m unittest for a Python repository with test_*.py and no pytest, protecting the tests', async () => {
    const repo = await gitdir({ 'sort.py': 'def sort(a):\n    return sorted(a)\n', 'test_sort.py': 'import unittest\n' });
    const bin = await tempDir();
    cleanups.push(repo.cleanup, bin.cleanup);
    // PATH without pytest: the standard library's runner is the one sure to be there.
    const result = await runCli(['init', repo.path, '--objective', 'faster', '--bench', 'python3 bench.py', '--metric', 's', '--goal', 'minimize'], { env: { PATH: bin.path } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('guessed: checks: python3 -m unittest (test_sort.py and no pytest configuration; pytest is not on PATH)');
    expect(result.stdout).toContain('guessed: protected: **/test_*.py (Python tests)');
    const yaml = await readFile(join(repo.path, 'ratchet.yaml'), 'utf8');
    expect(yaml).toMatch(/run: python3 -m unittest/);
    expect(yaml).toContain('**/test_*.py');
  }, 60_000);

  it('init on a folder that is not a git repository says so and how to make it one', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const result = await runCli(['init', dir.path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`ratchet: ${dir.path} is not a git repository`);
    expect(result.stderr).toContain(`hint: make it one: git -C ${dir.path} init`);
    expect(await readdir(dir.path)).toEqual([]);
  }, 60_000);

  it('says at the start, in one line, that uncommitted changes are not part of the run', async () => {
    const target = await makeTarget();
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    await writeTree(target.path, { 'value.txt': '3\n', 'notes.md': 'mine\n' });
    const head = git(target.path, 'rev-parse', 'HEAD');
    const result = await runCli(['run', target.path, '--agent-run', 'true', '--max-experiments', '1', '--experiments', join(work.path, 'experiments'), '--redis', `redis+unix://${testRedisSocket()}`]);
    expect(result.code, result.stderr).toBe(0);
    const notices = result.stderr.split('\n').filter((line) => line.includes('uncommitted'));
    expect(notices).toEqual([`ratchet: warning: uncommitted changes are not part of the run (1 changed file, 1 untracked: value.txt, notes.md); it starts from HEAD (${head.slice(0, 7)})`]);
    // The baseline is the commit's 10, not the working tree's 3.
    expect(result.stdout).toMatch(/baseline\s+10/);
  }, 60_000);
});
