import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { restorePaths } from '../../src/git/protect.js';
import { git } from '../helpers/gitdir.js';
import { experimentRef, target } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Everything a user could notice about their checkout, read without taking optional locks. */
async function snapshot(repo: string): Promise<Record<string, string>> {
  return {
    status: git(repo, '--no-optional-locks', 'status', '--porcelain=v2', '--branch', '--untracked-files=all'),
    head: git(repo, 'rev-parse', 'HEAD'),
    symbolicHead: git(repo, 'symbolic-ref', 'HEAD'),
    index: createHash('sha256')
      .update(await readFile(join(repo, '.git/index')))
      .digest('hex'),
    dirty: await readFile(join(repo, 'src/sort.js'), 'utf8'),
    staged: await readFile(join(repo, 'src/util.js'), 'utf8'),
    untracked: await readFile(join(repo, 'notes.txt'), 'utf8'),
  };
}

it('never touches the user checkout: branch, HEAD, index, dirty and untracked files', async () => {
  const t = await target();
  cleanups.push(t.cleanup);
  await writeFile(join(t.repo, 'src/sort.js'), 'user work in progress\n');
  await writeFile(join(t.repo, 'src/util.js'), 'staged by the user\n');
  git(t.repo, 'add', 'src/util.js');
  await writeFile(join(t.repo, 'notes.txt'), 'untracked user notes\n');
  const before = await snapshot(t.repo);
  expect(before.status).toContain('# branch.head main');
  expect(before.status).toContain('? notes.txt');

  const worktrees = await Promise.all(
    [1, 2, 3, 4].map((n) => t.ws.createWorktree({ ref: experimentRef('run1', n), commit: t.head, name: `e000${n}` })),
  );
  for (const [i, wt] of worktrees.entries()) {
    await writeFile(join(wt.path, 'src/sort.js'), `candidate ${i}\n`);
    await writeFile(join(wt.path, 'notes.txt'), `candidate notes ${i}\n`);
    await t.ws.commitAll(wt, `candidate ${i}`);
  }
  const best = (await t.ws.readRef(worktrees[2]!.ref))!;
  await t.ws.updateRef('refs/heads/ratchet/run1/best', best);
  await restorePaths(worktrees[0]!.path, t.head, ['src/**']);
  await t.ws.removeWorktree(worktrees[0]!.path);
  await t.ws.removeWorktree(worktrees[1]!.path);
  await t.ws.reconcile(t.ws.worktreeRoot);

  expect(await snapshot(t.repo)).toEqual(before);
  expect(await t.ws.readRef('refs/heads/ratchet/run1/best')).toBe(best);
});
