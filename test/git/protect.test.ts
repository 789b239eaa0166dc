import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Worktree } from '../../src/domain/workspace.js';
import { diffPaths, restorePaths } from '../../src/git/protect.js';
import { git } from '../helpers/gitdir.js';
import { experimentRef, target, type Target } from './fixtures/repo.js';

const PROTECTED = ['bench/**', 'test/**', 'ratchet.yaml'];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(): Promise<{ t: Target; wt: Worktree }> {
  const t = await target({
    'src/sort.js': 'sort\n',
    'bench/run.js': 'bench\n',
    'bench/data/input.txt': 'input\n',
    'test/sort.test.js': 'test\n',
    'ratchet.yaml': { content: 'objective: x\n', mode: 0o644 },
    '.gitignore': 'node_modules/\n',
  });
  cleanups.push(t.cleanup);
  const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
  return { t, wt };
}

/** The kinds of tampering an agent could do to the evaluator. */
async function tamper(path: string): Promise<void> {
  await writeFile(join(path, 'bench/run.js'), 'cheat\n');
  await rm(join(path, 'bench/data/input.txt'));
  await writeFile(join(path, 'test/extra.test.js'), 'new test\n');
  await chmod(join(path, 'ratchet.yaml'), 0o755);
  await symlink('/etc/passwd', join(path, 'bench/link'));
}

describe('diffPaths', () => {
  it('lists protected files that were modified, deleted, added or changed mode', async () => {
    const { t, wt } = await setUp();
    await tamper(wt.path);
    await writeFile(join(wt.path, 'src/sort.js'), 'editable change\n');
    expect(await diffPaths(wt.path, t.head, PROTECTED)).toEqual([
      'bench/data/input.txt',
      'bench/link',
      'bench/run.js',
      'ratchet.yaml',
      'test/extra.test.js',
    ]);
  });

  it('sees a change hidden behind assume-unchanged or skip-worktree', async () => {
    const { t, wt } = await setUp();
    git(wt.path, 'update-index', '--assume-unchanged', 'bench/run.js');
    git(wt.path, 'update-index', '--skip-worktree', 'test/sort.test.js');
    await writeFile(join(wt.path, 'bench/run.js'), 'cheat, longer than before\n');
    await writeFile(join(wt.path, 'test/sort.test.js'), 'weakened test, longer\n');
    expect(git(wt.path, 'status', '--porcelain')).toBe('');
    expect(await diffPaths(wt.path, t.head, PROTECTED)).toEqual(['bench/run.js', 'test/sort.test.js']);
  });

  it('compares against the given commit, not the worktree HEAD, and ignores ignored files', async () => {
    const { t, wt } = await setUp();
    await writeFile(join(wt.path, 'bench/run.js'), 'committed cheat\n');
    await t.ws.commitAll(wt, 'cheat');
    await mkdir(join(wt.path, 'test/node_modules/x'), { recursive: true });
    await writeFile(join(wt.path, 'test/node_modules/x/a.test.js'), '');
    expect(await diffPaths(wt.path, t.head, PROTECTED)).toEqual(['bench/run.js']);
  });

  it('finds nothing when the evaluator is untouched or no globs are given', async () => {
    const { t, wt } = await setUp();
    await writeFile(join(wt.path, 'src/sort.js'), 'editable change\n');
    expect(await diffPaths(wt.path, t.head, PROTECTED)).toEqual([]);
    await tamper(wt.path);
    expect(await diffPaths(wt.path, t.head, [])).toEqual([]);
  });
});

describe('restorePaths', () => {
  it('puts protected files back as they were at the commit and leaves the rest alone', async () => {
    const { t, wt } = await setUp();
    await tamper(wt.path);
    await writeFile(join(wt.path, 'src/sort.js'), 'editable change\n');
    await mkdir(join(wt.path, 'node_modules/dep'), { recursive: true });
    await writeFile(join(wt.path, 'node_modules/dep/index.js'), 'setup output\n');
    const indexBefore = git(wt.path, 'ls-files', '-s');

    const restored = await restorePaths(wt.path, t.head, PROTECTED);
    expect(restored).toEqual(['bench/data/input.txt', 'bench/link', 'bench/run.js', 'ratchet.yaml', 'test/extra.test.js']);
    expect(await readFile(join(wt.path, 'bench/run.js'), 'utf8')).toBe('bench\n');
    expect(await readFile(join(wt.path, 'bench/data/input.txt'), 'utf8')).toBe('input\n');
    expect(existsSync(join(wt.path, 'test/extra.test.js'))).toBe(false);
    expect(existsSync(join(wt.path, 'bench/link'))).toBe(false);
    expect((await stat(join(wt.path, 'ratchet.yaml'))).mode & 0o111).toBe(0);
    expect(await readFile(join(wt.path, 'src/sort.js'), 'utf8')).toBe('editable change\n');
    expect(existsSync(join(wt.path, 'node_modules/dep/index.js'))).toBe(true);
    expect(git(wt.path, 'ls-files', '-s')).toBe(indexBefore);
    expect(await diffPaths(wt.path, t.head, PROTECTED)).toEqual([]);
  });

  it('restores a file the agent replaced with a folder', async () => {
    const { t, wt } = await setUp();
    await rm(join(wt.path, 'bench/run.js'));
    await mkdir(join(wt.path, 'bench/run.js'));
    await writeFile(join(wt.path, 'bench/run.js/index.js'), 'cheat\n');
    await restorePaths(wt.path, t.head, PROTECTED);
    expect(await readFile(join(wt.path, 'bench/run.js'), 'utf8')).toBe('bench\n');
  });

  it('changes nothing and returns nothing when there is nothing to restore', async () => {
    const { t, wt } = await setUp();
    await expect(restorePaths(wt.path, t.head, PROTECTED)).resolves.toEqual([]);
    expect(git(wt.path, 'status', '--porcelain')).toBe('');
  });
});
