/**
 * `clean` of a worktree the pool has just moved to its commit (alreadyClean), against real git:
 * the protected paths come from the base commit as they do on the full path, the record is the
 * same, and it takes one git process where nothing protected differs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckoutRecord } from '../../src/domain/checkout-guard.js';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { resetPooled } from '../../src/git/pool.js';
import { readTreeState } from '../../src/git/tree-state.js';
import { matchesAny } from '../../src/plan/path-policy.js';
import { git, gitdir, tempDir, writeTree, type FileTree } from '../helpers/gitdir.js';
import { countGitSpawns } from './fixtures/git-spawns.js';
import { TARGET } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const GLOBS = ['bench', 'README.md', 'test/*.js'];

interface Repo {
  path: string;
  base: string;
  /** A commit on the base with `files` written and `removed` deleted. */
  commit(files: FileTree, removed?: string[]): Promise<string>;
  /** A worktree at `commit` as the pool leaves one: moved there by its reset, found clean. */
  pooled(commit: string): Promise<string>;
}

async function repo(): Promise<Repo> {
  const dir = await gitdir(TARGET);
  const place = await tempDir('ratchet-fresh-wt-');
  cleanups.push(dir.cleanup, place.cleanup);
  const base = git(dir.path, 'rev-parse', 'HEAD');
  let next = 0;
  return {
    path: dir.path,
    base,
    async commit(files, removed = []) {
      git(dir.path, 'checkout', '-q', '--detach', base);
      await writeTree(dir.path, files);
      for (const path of removed) git(dir.path, 'rm', '-q', path);
      git(dir.path, 'add', '-A');
      git(dir.path, 'commit', '-q', '--allow-empty', '-m', `commit ${next}`);
      return git(dir.path, 'rev-parse', 'HEAD');
    },
    async pooled(commit) {
      const path = join(place.path, `wt-${next++}`);
      git(dir.path, 'worktree', 'add', '-q', '--detach', path, base);
      await resetPooled(path, commit, { indexTrusted: true });
      return path;
    },
  };
}

/** What a record says, without the stamps (two worktrees' files have their own inodes and times). */
function shape(record: CheckoutRecord): object {
  return {
    commit: record.commit,
    tree: [...record.tree].map(([path, stamp]) => `${path} ${stamp.slice(0, 1)}`).sort(),
    tracked: [...record.tracked].sort(),
    setupTouched: [...record.setupTouched].sort(),
  };
}

/** The protected files of a worktree, or of the base commit, and what they hold. */
async function protectedFiles(worktree: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [path, stamp] of await readTreeState(worktree)) {
    if (stamp.startsWith('f:') && matchesAny(path, GLOBS)) files[path] = await readFile(join(worktree, path), 'utf8');
  }
  return files;
}

function baseFiles(repo: string, base: string): Record<string, string> {
  const paths = git(repo, 'ls-tree', '-r', '--name-only', base).split('\n');
  return Object.fromEntries(paths.filter((path) => matchesAny(path, GLOBS)).map((path) => [path, `${git(repo, 'show', `${base}:${path}`)}\n`]));
}

describe('cleaning a worktree the pool has just moved to its commit', () => {
  const guard = new GitCheckoutGuard();

  it.each([
    ['changed a protected file', { 'bench/run.js': 'console.log("METRIC ops=1000");\n' }, []],
    ['added one, in a new folder of a protected folder', { 'bench/new/deep.js': 'cheat\n' }, []],
    ['deleted one', {}, ['test/sort.test.js']],
    ['changed, added and deleted some, and changed a file outside them', { 'README.md': '# mine\n', 'bench/extra.js': 'x\n', 'src/sort.js': 'faster\n' }, ['bench/run.js']],
    ['changed none', { 'src/sort.js': 'faster\n' }, []],
  ] as const)('gives a candidate that %s the base protected files and the record the full clean gives', async (_, files, removed) => {
    const r = await repo();
    const commit = await r.commit(files, [...removed]);
    const fresh = await r.pooled(commit);
    const full = await r.pooled(commit);
    const from = { commit: r.base, globs: GLOBS };
    const fast = await guard.clean(fresh, commit, from, { alreadyClean: true });
    const slow = await new GitCheckoutGuard().clean(full, commit, from);
    expect(await protectedFiles(fresh)).toEqual(baseFiles(r.path, r.base));
    expect(shape(fast)).toEqual(shape(slow));
    // Outside the protected paths, the candidate's own files are what is measured.
    expect(await readFile(join(fresh, 'src/sort.js'), 'utf8')).toBe(await readFile(join(full, 'src/sort.js'), 'utf8'));
  });

  it('leaves a submodule the candidate added alone, as the full clean does', async () => {
    const r = await repo();
    await r.commit({});
    git(r.path, 'update-index', '--add', '--cacheinfo', `160000,${r.base},bench/sub`);
    git(r.path, 'commit', '-q', '-m', 'a submodule');
    const commit = git(r.path, 'rev-parse', 'HEAD');
    const from = { commit: r.base, globs: GLOBS };
    const fast = await guard.clean(await r.pooled(commit), commit, from, { alreadyClean: true });
    const slow = await new GitCheckoutGuard().clean(await r.pooled(commit), commit, from);
    expect(shape(fast)).toEqual(shape(slow));
    expect(fast.tracked.has('bench/sub')).toBe(true);
  });

  it('starts one git process when nothing protected differs, once the base is known', async () => {
    const r = await repo();
    const from = { commit: r.base, globs: GLOBS };
    const first = await r.commit({ 'src/sort.js': 'one\n' });
    await guard.clean(await r.pooled(first), first, from, { alreadyClean: true });
    const second = await r.commit({ 'src/sort.js': 'two\n' });
    const worktree = await r.pooled(second);
    const spawns = await countGitSpawns();
    try {
      const record = await guard.clean(worktree, second, from, { alreadyClean: true });
      expect(await spawns.take()).toEqual([`ls-tree -r -z --full-tree ${second}`]);
      expect(record.setupTouched.size).toBe(0);
    } finally {
      await spawns.stop();
    }
  });

  it('lists the base once per repository: a second worktree of it does not list it again', async () => {
    const r = await repo();
    const from = { commit: r.base, globs: GLOBS };
    const commit = await r.commit({ 'bench/run.js': 'cheat\n' });
    const guardOfRun = new GitCheckoutGuard();
    await guardOfRun.clean(await r.pooled(commit), commit, from, { alreadyClean: true });
    const worktree = await r.pooled(commit);
    const spawns = await countGitSpawns();
    try {
      await guardOfRun.clean(worktree, commit, from, { alreadyClean: true });
      const listings = (await spawns.take()).filter((args) => args.startsWith('ls-tree'));
      expect(listings).toEqual([`ls-tree -r -z --full-tree ${commit}`]);
    } finally {
      await spawns.stop();
    }
    expect(await protectedFiles(worktree)).toEqual(baseFiles(r.path, r.base));
  });
});

describe("setup's record after the clean", () => {
  it.each([true, false])('lists no commit again for the files the clean listed (alreadyClean: %s), and records what setup did', async (alreadyClean) => {
    const r = await repo();
    const commit = await r.commit({ 'src/sort.js': 'faster\n' });
    const worktree = await r.pooled(commit);
    const guard = new GitCheckoutGuard();
    await guard.clean(worktree, commit, { commit: r.base, globs: GLOBS }, { alreadyClean });
    // What a setup does: an output of its own, a tracked file rewritten.
    await writeTree(worktree, { 'node_modules/dep/index.js': 'x\n', 'src/util.js': 'generated\n' });
    const spawns = await countGitSpawns();
    try {
      const record = await guard.record(worktree, commit);
      expect((await spawns.take()).filter((args) => args.startsWith('ls-tree'))).toEqual([]);
      expect(shape(record)).toEqual(shape(await new GitCheckoutGuard().record(worktree, commit)));
      expect([...record.setupTouched]).toEqual(['src/util.js']);
    } finally {
      await spawns.stop();
    }
  });
});

describe('restore of a trusted worktree', () => {
  it("puts back what a stage did as the full restore does, without a git process for HEAD or the index", async () => {
    const r = await repo();
    const commit = await r.commit({ 'src/x.js': 'x\n' });
    const guard = new GitCheckoutGuard();
    const trusted = await r.pooled(commit);
    const full = await r.pooled(commit);
    // Records as setup leaves them (a clean checkout's record is restored by cleaning again, below).
    await Promise.all([trusted, full].map((wt) => guard.clean(wt, commit, { commit: r.base, globs: GLOBS }, { alreadyClean: true })));
    const records = await Promise.all([trusted, full].map((wt) => guard.record(wt, commit)));
    // What a stage leaves: an edit of a tracked file, a new file, a removed one.
    for (const wt of [trusted, full]) {
      await writeTree(wt, { 'src/x.js': 'changed\n', 'notes.txt': 'left\n' });
      git(wt, 'rm', '-q', '--cached', '--', 'src/x.js');
    }
    const spawns = await countGitSpawns();
    try {
      // The trusted one's index is left as it is: no command of a sandboxed stage could write it.
      git(trusted, 'reset', '-q');
      await spawns.take();
      const a = await guard.restore(trusted, records[0]!, { indexTrusted: true });
      const used = await spawns.take();
      const b = await guard.restore(full, records[1]!);
      expect(a).toMatchObject({ ok: true, removed: ['notes.txt'], restored: ['src/x.js'] });
      expect(b).toMatchObject({ ok: true, removed: ['notes.txt'], restored: ['src/x.js'] });
      expect(used.filter((args) => /^(update-ref|ls-files|reset)\b/.test(args))).toEqual([]);
      expect((await spawns.take()).filter((args) => /^(update-ref|ls-files|reset)\b/.test(args)).length).toBeGreaterThan(0);
    } finally {
      await spawns.stop();
    }
    for (const wt of [trusted, full]) {
      expect(await readFile(join(wt, 'src/x.js'), 'utf8')).toBe('x\n');
      expect(git(wt, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    }
  });
});

describe('restore of a clean checkout', () => {
  it('records the protected globs\' top folders alone, and the same stamps there as the full walk', async () => {
    const r = await repo();
    const commit = await r.commit({ 'src/x.js': 'x\n', 'test/sort.test.js': 'changed\n' });
    const worktree = await r.pooled(commit);
    const record = await new GitCheckoutGuard().clean(worktree, commit, { commit: r.base, globs: GLOBS }, { alreadyClean: true });
    expect(record.clean?.scope).toEqual(['README.md', 'bench', 'test']);
    expect([...record.tree.keys()].every((path) => ['README.md', 'bench', 'test'].some((top) => path === top || path.startsWith(`${top}/`)))).toBe(true);
    expect(record.tree.get('test/sort.test.js')).toBe((await readTreeState(worktree)).get('test/sort.test.js'));
  });

  it('walks everything when a protected glob can match anywhere', async () => {
    const r = await repo();
    const commit = await r.commit({ 'src/x.js': 'x\n' });
    const worktree = await r.pooled(commit);
    const record = await new GitCheckoutGuard().clean(worktree, commit, { commit: r.base, globs: ['**/*.md'] }, { alreadyClean: true });
    expect(record.clean).toBeUndefined();
    expect(new Set(record.tree.keys())).toEqual(new Set((await readTreeState(worktree)).keys()));
  });

  it.each([true, false])('leaves nothing of a stage and the base protected paths in place (index trusted: %s)', async (trusted) => {
    const r = await repo();
    const commit = await r.commit({ 'src/x.js': 'x\n', 'test/sort.test.js': 'the candidate\'s own test\n' });
    const guard = new GitCheckoutGuard();
    const worktree = await r.pooled(commit);
    const record = await guard.clean(worktree, commit, { commit: r.base, globs: GLOBS }, { alreadyClean: true });
    const protectedBefore = await readFile(join(worktree, 'test/sort.test.js'), 'utf8');
    // What a stage leaves: a tracked file changed and one removed, a new file, an ignored build
    // folder, a nested repository, and a protected file rewritten.
    await writeTree(worktree, { 'src/x.js': 'changed\n', 'notes.txt': 'left\n', 'node_modules/m/index.js': 'm\n', 'nested/f.txt': 'f\n', 'test/sort.test.js': 'forged\n' });
    git(join(worktree, 'nested'), 'init', '-q');
    git(worktree, 'rm', '-q', '--cached', '--', 'src/x.js');
    const restored = await guard.restore(worktree, record, { indexTrusted: trusted });
    expect(restored.ok).toBe(true);
    expect(await readFile(join(worktree, 'src/x.js'), 'utf8')).toBe('x\n');
    expect(await readFile(join(worktree, 'test/sort.test.js'), 'utf8')).toBe(protectedBefore);
    // Only the protected path differs from the commit (it is the base's), as after the first clean.
    expect(git(worktree, 'status', '--porcelain', '--untracked-files=all', '--ignored')).toBe('M test/sort.test.js') // trimmed: ' M', changed in the worktree only;
    expect(restored.ok && restored.record.clean?.scope).toEqual(record.clean?.scope);
    expect(restored.ok && [...restored.record.setupTouched]).toEqual([...record.setupTouched]);
  });
});
