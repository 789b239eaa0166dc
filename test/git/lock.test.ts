import { mkdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { lockPath, withRefLock, withRepoLock } from '../../src/git/lock.js';
import { tempDir } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function fakeGitDir(): Promise<string> {
  const dir = await tempDir('ratchet-lock-');
  cleanups.push(dir.cleanup);
  return dir.path;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withRepoLock', () => {
  it('lets one holder at a time in, in the order they asked', async () => {
    const gitDir = await fakeGitDir();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        withRepoLock(gitDir, async () => {
          inside += 1;
          most = Math.max(most, inside);
          await sleep(2);
          order.push(i);
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order).toEqual([...Array(12).keys()]);
  });

  it('keeps going after a holder throws, and passes the error on', async () => {
    const gitDir = await fakeGitDir();
    const failing = withRepoLock(gitDir, () => Promise.reject(new Error('boom')));
    const next = withRepoLock(gitDir, () => Promise.resolve('after'));
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
  });

  it('holds a lock directory in the git dir while running and removes it after', async () => {
    const gitDir = await fakeGitDir();
    const seen = await withRepoLock(gitDir, () => stat(lockPath(gitDir)).then((s) => s.isDirectory()));
    expect(seen).toBe(true);
    await expect(stat(lockPath(gitDir))).rejects.toThrow();
  });

  it('takes over a lock left behind by a crashed process once it is stale', async () => {
    const gitDir = await fakeGitDir();
    await mkdir(lockPath(gitDir), { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath(gitDir), old, old);
    await expect(withRepoLock(gitDir, () => Promise.resolve('ran'), { staleMs: 5_000 })).resolves.toBe('ran');
  });

  it('gives up with a UserError naming the lock when another holder keeps it', async () => {
    const gitDir = await fakeGitDir();
    await mkdir(lockPath(gitDir), { recursive: true });
    const attempt = withRepoLock(gitDir, () => Promise.resolve(), { timeoutMs: 300 });
    await expect(attempt).rejects.toBeInstanceOf(UserError);
    await expect(attempt).rejects.toThrow(join('ratchet', 'repo.lock'));
  });

  it('keeps the refs lock apart from the worktrees lock: a ref update does not wait for a worktree being made', async () => {
    const gitDir = await fakeGitDir();
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worktree = withRepoLock(gitDir, async () => {
      events.push('worktrees taken');
      await held;
      events.push('worktrees released');
    });
    await sleep(20);
    await withRefLock(gitDir, async () => {
      events.push('refs taken');
      expect((await stat(lockPath(gitDir, 'refs'))).isDirectory()).toBe(true);
    });
    release();
    await worktree;
    expect(events).toEqual(['worktrees taken', 'refs taken', 'worktrees released']);
    expect(lockPath(gitDir, 'refs')).toBe(join(gitDir, 'ratchet', 'refs.lock'));
  });

  it('serialises the holders of the refs lock among themselves, across a file lock of its own', async () => {
    const gitDir = await fakeGitDir();
    await mkdir(lockPath(gitDir, 'refs'), { recursive: true });
    // Another process holds the refs lock: a ref update gives up, a worktree's add does not wait for it.
    await expect(withRefLock(gitDir, () => Promise.resolve(), { timeoutMs: 300 })).rejects.toThrow(join('ratchet', 'refs.lock'));
    await expect(withRepoLock(gitDir, () => Promise.resolve('made'), { timeoutMs: 300 })).resolves.toBe('made');
  });
});
