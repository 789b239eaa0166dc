/** The repository snapshot around an unsandboxed stage, against a worktree ratchet is adding meanwhile. */
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withRepoLock } from '../../src/git/lock.js';
import { repoChanges, snapshotRepo } from '../../src/git/repo-guard.js';
import { gitdir } from '../helpers/gitdir.js';
import { TARGET } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('snapshotRepo', () => {
  it("does not take a worktree ratchet is adding, its gitdir not written yet, for a checkout of the user's", async () => {
    const dir = await gitdir(TARGET);
    cleanups.push(dir.cleanup);
    const gitDir = await realpath(join(dir.path, '.git'));
    const before = await snapshotRepo(gitDir);
    // A worktree add under the lock: its admin folder and HEAD first, then the gitdir naming ratchet's folder.
    let snapshot: ReturnType<typeof snapshotRepo> | undefined;
    await withRepoLock(gitDir, async () => {
      const admin = join(gitDir, 'worktrees', 'pool-1');
      await mkdir(admin, { recursive: true });
      await writeFile(join(admin, 'HEAD'), `${'a'.repeat(40)}\n`);
      snapshot = snapshotRepo(gitDir);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await writeFile(join(admin, 'gitdir'), `${join(gitDir, 'ratchet', 'eval', 'w-1', 'pool-1', '.git')}\n`);
    });
    expect(repoChanges(before, await snapshot!)).toEqual([]);
  });

  it("still watches the HEAD of a checkout of the user's", async () => {
    const dir = await gitdir(TARGET);
    cleanups.push(dir.cleanup);
    const gitDir = await realpath(join(dir.path, '.git'));
    const admin = join(gitDir, 'worktrees', 'mine');
    await mkdir(admin, { recursive: true });
    await writeFile(join(admin, 'gitdir'), '/home/user/mine/.git\n');
    await writeFile(join(admin, 'HEAD'), 'ref: refs/heads/main\n');
    const before = await snapshotRepo(gitDir);
    await writeFile(join(admin, 'HEAD'), `${'b'.repeat(40)}\n`);
    expect(repoChanges(before, await snapshotRepo(gitDir))).toEqual(['changed worktrees/mine/HEAD']);
  });
});
