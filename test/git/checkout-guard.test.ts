import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { protectedTouched } from '../../src/git/checkout.js';
import { diffTreeStates, readTreeState } from '../../src/git/tree-state.js';
import { experimentRef, target, type Target } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(): Promise<Target & { worktree: string }> {
  const t = await target();
  cleanups.push(t.cleanup);
  const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
  return { ...t, worktree: wt.path };
}

const GLOBS = ['bench/**', 'README.md', 'test/*.js'];
const guard = new GitCheckoutGuard();

/** What the whole walk finds: the answer the look at the protected paths alone must give. */
async function wholeWalk(worktree: string, record: Awaited<ReturnType<GitCheckoutGuard['record']>>, globs: readonly string[]): Promise<string[]> {
  return protectedTouched(worktree, diffTreeStates(record.tree, await readTreeState(worktree)), globs);
}

describe('protected paths a stage touched', () => {
  it('finds a changed file, an addition in a protected folder and a removal, and nothing outside them', async () => {
    const t = await setUp();
    const record = await guard.record(t.worktree, t.head);
    await writeFile(join(t.worktree, 'README.md'), '# changed\n');
    await writeFile(join(t.worktree, 'bench/extra.js'), 'x\n');
    await writeFile(join(t.worktree, 'test/new.js'), 'x\n');
    await writeFile(join(t.worktree, 'src/sort.js'), 'not protected\n');
    await mkdir(join(t.worktree, 'node_modules'));
    const touched = await guard.protectedTouched(t.worktree, record, GLOBS);
    expect(touched).toEqual(['README.md', 'bench/extra.js', 'test/new.js']);
    expect(touched).toEqual(await wholeWalk(t.worktree, record, GLOBS));
  });

  it('sees a protected folder swapped for a link to its own moved copy', async () => {
    const t = await setUp();
    const record = await guard.record(t.worktree, t.head);
    await rename(join(t.worktree, 'bench'), join(t.worktree, 'elsewhere'));
    await symlink('elsewhere', join(t.worktree, 'bench'));
    const touched = await guard.protectedTouched(t.worktree, record, GLOBS);
    expect(touched).toContain('bench/run.js');
    expect(touched).toEqual(await wholeWalk(t.worktree, record, GLOBS));
  });

  it('sees a folder on the way to a protected file replaced by a link', async () => {
    const t = await setUp();
    const record = await guard.record(t.worktree, t.head);
    const globs = ['test/sort.test.js'];
    await rename(join(t.worktree, 'test'), join(t.worktree, 'moved'));
    await symlink('moved', join(t.worktree, 'test'));
    const touched = await guard.protectedTouched(t.worktree, record, globs);
    expect(touched).toEqual(['test/sort.test.js']);
    expect(touched).toEqual(await wholeWalk(t.worktree, record, globs));
  });
});
