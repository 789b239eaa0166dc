import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/eval/isolation.js';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { GitWorkspace } from '../../src/git/workspace.js';
import { git } from '../helpers/gitdir.js';
import { experimentRef, target, type Target } from './fixtures/repo.js';
import { countGitSpawns } from './fixtures/git-spawns.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(): Promise<Target & { pooled: GitWorkspace }> {
  const t = await target();
  const pooled = await GitWorkspace.open(t.repo, { runId: 'run1', pool: true });
  // Worktrees moved ahead in the background are done before their repository goes.
  cleanups.push(async () => {
    await pooled.settled();
    await t.cleanup();
  });
  return { ...t, pooled };
}

/** A second commit on main, so the pool has somewhere to move a worktree to. */
function writeAndCommit(repo: string, path: string, content: string): string {
  writeFileSync(join(repo, path), content);
  git(repo, 'commit', '-q', '-am', `change ${path}`);
  return git(repo, 'rev-parse', 'HEAD');
}

function listedWorktrees(repo: string): string[] {
  return git(repo, 'worktree', 'list', '--porcelain')
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => basename(line.slice('worktree '.length)));
}

describe('the worktree pool', () => {
  it("hands the next experiment the last one's worktree at its own commit, with nothing the last candidate left", async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    expect(basename(first.path)).toBe('pool-1');
    // The candidate's leftovers: an ignored build folder, an untracked file, an edit, a nested repository, a staged file.
    await mkdir(join(first.path, 'node_modules/pkg'), { recursive: true });
    await writeFile(join(first.path, 'node_modules/pkg/index.js'), 'leak\n');
    await writeFile(join(first.path, 'notes.txt'), 'leak\n');
    await writeFile(join(first.path, 'src/sort.js'), 'leak\n');
    await mkdir(join(first.path, 'vendor/lib'), { recursive: true });
    git(join(first.path, 'vendor/lib'), 'init', '-q');
    await writeFile(join(first.path, 'staged.txt'), 'leak\n');
    git(first.path, 'add', 'staged.txt');
    await t.pooled.removeWorktree(first.path);
    expect(existsSync(first.path)).toBe(true);

    const next = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: next, name: 'e0002' });
    expect(second.path).toBe(first.path);
    expect(git(second.path, 'rev-parse', 'HEAD')).toBe(next);
    expect(await t.pooled.readRef(second.ref)).toBe(next);
    expect(await readFile(join(second.path, 'README.md'), 'utf8')).toBe('# moved on\n');
    expect(await readFile(join(second.path, 'src/sort.js'), 'utf8')).toContain('export const sort');
    for (const left of ['node_modules', 'notes.txt', 'vendor', 'staged.txt']) expect(existsSync(join(second.path, left))).toBe(false);
    expect(git(second.path, 'status', '--porcelain', '--ignored', '--untracked-files=all')).toBe('');
    expect(listedWorktrees(t.repo)).toHaveLength(2);
  });

  it("with a trusted index, commits each experiment's own change on its parent and finds an empty change empty", async () => {
    const t = await setUp();
    const trusted = { indexTrusted: true };
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    await t.pooled.settled(); // the worktree made aside is idle before this one comes back
    await writeFile(join(first.path, 'src/sort.js'), 'first\n');
    await writeFile(join(first.path, 'notes.txt'), 'new file\n');
    const one = await t.pooled.commitAll(first, 'one', trusted);
    expect(one).toMatchObject({ files: ['notes.txt', 'src/sort.js'] });
    expect(git(t.repo, 'rev-parse', `${one!.commit}^`)).toBe(t.head);
    await t.pooled.removeWorktree(first.path);
    await t.pooled.settled(); // no move under way: the worktree given back last is handed out next

    // The same worktree, moved to the first candidate: an edit of another file is all the next one holds.
    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: one!.commit, name: 'e0002', ...trusted });
    expect(second.path).toBe(first.path);
    await rm(join(second.path, 'notes.txt'));
    const two = await t.pooled.commitAll(second, 'two', trusted);
    expect(two).toMatchObject({ files: ['notes.txt'], deletions: 1, insertions: 0 });
    expect(git(t.repo, 'rev-parse', `${two!.commit}^`)).toBe(one!.commit);
    await t.pooled.removeWorktree(second.path);

    const third = await t.pooled.createWorktree({ ref: experimentRef('run1', 3), commit: two!.commit, name: 'e0003', ...trusted });
    // Written back as it was: no change at all.
    await writeFile(join(third.path, 'src/sort.js'), 'first\n');
    expect(await t.pooled.commitAll(third, 'nothing', trusted)).toBeUndefined();
    expect(await t.pooled.readRef(third.ref)).toBe(two!.commit);
  });

  it('with a trusted index, a ref moved behind its back still gives a commit on where the ref really is', async () => {
    const t = await setUp();
    const trusted = { indexTrusted: true };
    const wt = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    const elsewhere = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    git(t.repo, 'update-ref', experimentRef('run1', 1), elsewhere);
    await writeFile(join(wt.path, 'src/sort.js'), 'changed\n');
    const candidate = await t.pooled.commitAll(wt, 'faster', trusted);
    expect(git(t.repo, 'rev-parse', `${candidate!.commit}^`)).toBe(elsewhere);
    expect(await t.pooled.readRef(wt.ref)).toBe(candidate!.commit);
    expect(candidate!.files).toContain('src/sort.js');
  });

  it('with a trusted index, moves a worktree to the next experiment with nothing left of the last, unchecked by a status', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', indexTrusted: true });
    // The worktree made aside meanwhile (moved ahead) is idle first: the one given back is handed out next.
    await t.pooled.settled();
    await mkdir(join(first.path, 'node_modules/pkg'), { recursive: true });
    await writeFile(join(first.path, 'node_modules/pkg/index.js'), 'leak\n');
    await writeFile(join(first.path, 'notes.txt'), 'leak\n');
    await writeFile(join(first.path, 'src/sort.js'), 'leak\n');
    await rm(join(first.path, 'README.md'));
    await mkdir(join(first.path, 'vendor/lib'), { recursive: true });
    git(join(first.path, 'vendor/lib'), 'init', '-q');
    await t.pooled.removeWorktree(first.path);
    await t.pooled.settled();
    const next = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: next, name: 'e0002', indexTrusted: true });
    expect(second.path).toBe(first.path);
    expect(git(second.path, 'status', '--porcelain', '--ignored', '--untracked-files=all')).toBe('');
    expect(await readFile(join(second.path, 'README.md'), 'utf8')).toBe('# moved on\n');
  });

  it('leaves a branch the agent checked out in its worktree where it was, on commit and on the next hand-out', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    git(first.path, 'checkout', '-q', '-b', 'agent-branch');
    await writeFile(join(first.path, 'src/sort.js'), 'changed\n');
    const candidate = await t.pooled.commitAll(first, 'faster');
    expect(git(t.repo, 'rev-parse', `${candidate!.commit}^`)).toBe(t.head);
    expect(git(t.repo, 'rev-parse', 'refs/heads/agent-branch')).toBe(t.head);
    git(first.path, 'checkout', '-q', 'agent-branch');
    await t.pooled.removeWorktree(first.path);
    const next = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: next, name: 'e0002' });
    expect(second.path).toBe(first.path);
    expect(git(second.path, 'rev-parse', 'HEAD')).toBe(next);
    expect(git(second.path, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('HEAD');
    expect(git(t.repo, 'rev-parse', 'refs/heads/agent-branch')).toBe(t.head);
  });

  it('commits on top of where the experiment ref is, even when something else moved it after the worktree was made', async () => {
    const t = await setUp();
    const wt = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    const moved = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    git(t.repo, 'update-ref', experimentRef('run1', 1), moved);
    await writeFile(join(wt.path, 'src/sort.js'), 'changed\n');
    const candidate = await t.pooled.commitAll(wt, 'faster');
    expect(git(t.repo, 'rev-parse', `${candidate!.commit}^`)).toBe(moved);
    expect(git(t.repo, 'rev-parse', experimentRef('run1', 1))).toBe(candidate!.commit);
    // Untouched files are no change against where the worktree was made, but are one against the moved ref.
    const again = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    git(t.repo, 'update-ref', experimentRef('run1', 2), moved);
    expect((await t.pooled.commitAll(again, 'back'))?.files).toEqual(['README.md']);
  });

  it('refuses to move a branch checked out in a linked worktree of the user', async () => {
    const t = await setUp();
    git(t.repo, 'branch', 'theirs');
    const theirs = join(t.repo, '..', `${basename(t.repo)}-theirs`);
    git(t.repo, 'worktree', 'add', '-q', theirs, 'theirs');
    cleanups.push(() => rm(theirs, { recursive: true, force: true }));
    await expect(t.pooled.createWorktree({ ref: 'refs/heads/theirs', commit: t.head, name: 'x' })).rejects.toThrow(/refs\/heads\/theirs is checked out at .*-theirs/);
  });

  it('replaces a pooled worktree whose git link cannot be repaired', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await t.pooled.removeWorktree(first.path);
    // The candidate deleted its `.git` link and its admin folder: nothing leads back any more.
    await rm(join(first.path, '.git'));
    await rm(join(t.pooled.gitDir, 'worktrees', 'pool-1'), { recursive: true, force: true });

    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    expect(basename(second.path)).toBe('pool-2');
    expect(existsSync(first.path)).toBe(false);
    expect(git(second.path, 'status', '--porcelain', '--ignored')).toBe('');
    expect(git(second.path, 'rev-parse', 'HEAD')).toBe(t.head);
    expect(listedWorktrees(t.repo)).toEqual([basename(t.repo), 'pool-2']);
  });

  it('replaces a pooled worktree whose admin folder holds state a candidate left (a rebase, a lock)', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await t.pooled.removeWorktree(first.path);
    await mkdir(join(t.pooled.gitDir, 'worktrees', 'pool-1', 'rebase-merge'));

    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    expect(basename(second.path)).toBe('pool-2');
    expect(existsSync(first.path)).toBe(false);
  });

  it('reuses a worktree whose .git link a candidate deleted, once the link is repaired', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await t.pooled.removeWorktree(first.path);
    await rm(join(first.path, '.git'));

    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    expect(second.path).toBe(first.path);
    expect(await t.pooled.worktreeLinkOk(second.path)).toBe(true);
    expect(git(second.path, 'status', '--porcelain', '--ignored')).toBe('');
  });

  it("makes a worker's record of the worktree as an earlier experiment left it unusable once the pool hands it out again", async () => {
    const t = await setUp();
    const guard = new GitCheckoutGuard();
    const records = new RecordCache();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    const checkout = { side: 'candidate' as const, worktree: first.path, commit: t.head };
    records.set(checkout, await guard.record(first.path, t.head));
    expect(records.get(checkout)).toBeDefined();
    await t.pooled.removeWorktree(first.path);

    // Same path, same commit: only the hand-out tells the two apart.
    const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    expect(second.path).toBe(first.path);
    expect(records.get({ ...checkout, worktree: second.path })).toBeUndefined();
  });

  it('keeps the pooled worktrees a crashed session left, checked and reset when handed out, and removes the rest', async () => {
    const t = await setUp();
    const pooled = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(pooled.path, 'dist.js'), 'left by a crash\n');
    const plain = await GitWorkspace.open(t.repo, { runId: 'run1' });
    const other = await plain.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });

    const resumed = await GitWorkspace.open(t.repo, { runId: 'run1', pool: true });
    await expect(resumed.reconcile(resumed.worktreeRoot)).resolves.toEqual([other.path]);
    const next = await resumed.createWorktree({ ref: experimentRef('run1', 3), commit: t.head, name: 'e0003' });
    expect(next.path).toBe(pooled.path);
    expect(existsSync(join(next.path, 'dist.js'))).toBe(false);
  });

  it('removes its idle worktrees when the session drains it', async () => {
    const t = await setUp();
    const wt = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await t.pooled.removeWorktree(wt.path);
    await t.pooled.drainPool();
    expect(existsSync(wt.path)).toBe(false);
    expect(listedWorktrees(t.repo)).toEqual([basename(t.repo)]);
    expect(await t.pooled.readRef(wt.ref)).toBe(t.head);
  });
});

describe('worktrees moved ahead for a confined agent', () => {
  const trusted = { indexTrusted: true };
  // These small worktrees move in a few milliseconds, below the cost where moves are made ahead.
  const setUp = async (): Promise<Target & { pooled: GitWorkspace }> => {
    const t = await target();
    const pooled = await GitWorkspace.open(t.repo, { runId: 'run1', pool: true, moveAheadFromMs: 0 });
    cleanups.push(async () => {
      await pooled.settled();
      await t.cleanup();
    });
    return { ...t, pooled };
  };

  it('hands the next experiment at the same commit a worktree made ready meanwhile, with no reset and nothing the last candidate left', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    await mkdir(join(first.path, 'node_modules/pkg'), { recursive: true });
    await writeFile(join(first.path, 'node_modules/pkg/index.js'), 'leak\n');
    await writeFile(join(first.path, 'notes.txt'), 'leak\n');
    await writeFile(join(first.path, 'src/sort.js'), 'leak\n');
    await t.pooled.removeWorktree(first.path);
    await t.pooled.settled();
    const spawns = await countGitSpawns();
    try {
      const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002', ...trusted });
      const third = await t.pooled.createWorktree({ ref: experimentRef('run1', 3), commit: t.head, name: 'e0003', ...trusted });
      expect((await spawns.take()).filter((args) => /^(reset|clean|worktree add)\b/.test(args))).toEqual([]);
      // Both idle worktrees served: the one made aside and the last experiment's, cleaned.
      expect(new Set([second.path, third.path]).size).toBe(2);
      expect([second.path, third.path]).toContain(first.path);
      for (const wt of [second, third]) {
        expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(t.head);
        expect(git(wt.path, 'status', '--porcelain', '--ignored', '--untracked-files=all')).toBe('');
      }
    } finally {
      await spawns.stop();
    }
  });

  it('moves a worktree made ready for a commit no longer asked for to the one asked for', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    await writeFile(join(first.path, 'notes.txt'), 'leak\n');
    await t.pooled.removeWorktree(first.path);
    const next = writeAndCommit(t.repo, 'README.md', '# moved on\n');
    // Asked for before the moves ahead (to the old commit) have ended.
    const [second, third] = await Promise.all([
      t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: next, name: 'e0002', ...trusted }),
      t.pooled.createWorktree({ ref: experimentRef('run1', 3), commit: next, name: 'e0003', ...trusted }),
    ]);
    for (const wt of [second, third]) {
      expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(next);
      expect(await readFile(join(wt.path, 'README.md'), 'utf8')).toBe('# moved on\n');
      expect(git(wt.path, 'status', '--porcelain', '--ignored', '--untracked-files=all')).toBe('');
    }
    await t.pooled.settled();
  });

  it('moves nothing ahead for an agent that is not confined: its worktree is reset when handed out', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(first.path, 'notes.txt'), 'leak\n');
    await t.pooled.removeWorktree(first.path);
    await t.pooled.settled();
    expect(listedWorktrees(t.repo)).toHaveLength(2);
    const spawns = await countGitSpawns();
    try {
      const second = await t.pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
      expect(second.path).toBe(first.path);
      expect((await spawns.take()).filter((args) => /^reset\b/.test(args)).length).toBeGreaterThan(0);
      expect(existsSync(join(second.path, 'notes.txt'))).toBe(false);
    } finally {
      await spawns.stop();
    }
  });

  it('removes the worktrees made ahead when the session drains the pool', async () => {
    const t = await setUp();
    const first = await t.pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    await t.pooled.removeWorktree(first.path);
    await t.pooled.drainPool();
    expect(listedWorktrees(t.repo)).toHaveLength(1);
  });

  it('makes no move ahead where a move costs less than the threshold: the worktree given back is moved when handed out', async () => {
    const t = await target();
    const pooled = await GitWorkspace.open(t.repo, { runId: 'run1', pool: true, moveAheadFromMs: 60_000 });
    cleanups.push(async () => {
      await pooled.settled();
      await t.cleanup();
    });
    const first = await pooled.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001', ...trusted });
    await pooled.removeWorktree(first.path);
    await pooled.settled();
    expect(listedWorktrees(t.repo)).toHaveLength(2); // none made aside
    const spawns = await countGitSpawns();
    try {
      const second = await pooled.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002', ...trusted });
      expect(second.path).toBe(first.path);
      expect((await spawns.take()).filter((args) => /^reset\b/.test(args)).length).toBeGreaterThan(0);
    } finally {
      await spawns.stop();
    }
  });
});
