/** The pool's bookkeeping (git/pool.ts WorktreePool): which worktrees come back into it. Pure. */
import { describe, expect, it } from 'vitest';
import { aheadMove, WorktreePool } from '../../src/git/pool.js';

/** A pool whose idle worktrees are `paths`, given back in that order. */
function poolWithIdle(paths: readonly string[]): WorktreePool {
  const pool = new WorktreePool('/root', 4);
  for (const path of paths) {
    pool.lease(path);
    pool.release(path);
  }
  return pool;
}

describe('WorktreePool', () => {
  it('keeps as many idle worktrees as were ever in use at once, beyond its capacity', () => {
    const pool = new WorktreePool('/root', 2);
    const paths = ['/root/pool-1', '/root/pool-2', '/root/pool-3', '/root/pool-4', '/root/pool-5'];
    for (const path of paths) pool.lease(path);
    // Five in flight at once (agent.parallel: 5): all five come back for the next five experiments.
    expect(paths.map((path) => pool.release(path))).toEqual([true, true, true, true, true]);
    expect(pool.drain().paths).toHaveLength(5);
  });

  it('keeps no more than its capacity when fewer were in use, and never one it did not lease', () => {
    const pool = new WorktreePool('/root', 2);
    pool.lease('/root/pool-1');
    expect(pool.release('/root/pool-1')).toBe(true);
    expect(pool.release('/root/pool-9')).toBe(false);
    pool.lease('/root/pool-2');
    pool.lease('/root/pool-3');
    expect([pool.release('/root/pool-2'), pool.release('/root/pool-3')]).toEqual([true, false]);
  });

  it('hands out an idle worktree moved ahead to the commit asked for first, with its move, and forgets the move once taken', () => {
    const pool = poolWithIdle(['/root/pool-1', '/root/pool-2', '/root/pool-3']);
    const ahead = { commit: 'c1', done: Promise.resolve(true) };
    pool.movingAhead('/root/pool-1', ahead);
    pool.movingAhead('/root/pool-9', { commit: 'c1', done: Promise.resolve(true) }); // not idle: ignored
    expect(pool.hasAhead('c1')).toBe(true);
    expect(pool.take('c1')).toEqual({ path: '/root/pool-1', ahead });
    expect(pool.hasAhead('c1')).toBe(false);
    // Nothing moved ahead to c2: the most recently released.
    expect(pool.take('c2')).toEqual({ path: '/root/pool-3', ahead: undefined });
    expect(pool.drain()).toEqual({ paths: ['/root/pool-2'], moving: [] });
  });

  it('hands out an idle worktree with no move under way before one moving to a commit no longer asked for', async () => {
    const pool = poolWithIdle(['/root/pool-1', '/root/pool-2']);
    let finish!: (ok: boolean) => void;
    const stale = aheadMove('old-best', new Promise<boolean>((resolve) => (finish = resolve)));
    const ended = aheadMove('old-best', Promise.resolve(true));
    pool.movingAhead('/root/pool-1', ended);
    pool.movingAhead('/root/pool-2', stale);
    await ended.done;
    await Promise.resolve();
    // After a keep: the best moved on; the most recent worktree is still on its way to the old one.
    expect(pool.take('new-best')).toEqual({ path: '/root/pool-1', ahead: ended });
    expect(pool.take('new-best')).toEqual({ path: '/root/pool-2', ahead: stale });
    finish(true);
  });

  it('hands out a worktree already at the commit asked for before one still on its way there', async () => {
    const pool = poolWithIdle(['/root/pool-1', '/root/pool-2']);
    const ready = aheadMove('best', Promise.resolve(true));
    const moving = aheadMove('best', new Promise<boolean>(() => undefined));
    pool.movingAhead('/root/pool-1', ready);
    pool.movingAhead('/root/pool-2', moving);
    await ready.done;
    await Promise.resolve();
    expect(pool.take('best')).toEqual({ path: '/root/pool-1', ahead: ready });
    expect(pool.take('best')).toEqual({ path: '/root/pool-2', ahead: moving });
  });
});
