import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InternalError, UserError } from '../../src/domain/errors.js';
import { defaultWorktreeRoot, GitWorkspace } from '../../src/git/workspace.js';
import { resetGitEnv } from '../../src/git/exec.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';
import { experimentRef, target, type Target } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(): Promise<Target> {
  const t = await target();
  cleanups.push(t.cleanup);
  return t;
}

function worktreeList(repo: string): string[] {
  return git(repo, 'worktree', 'list', '--porcelain')
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length));
}

describe('GitWorkspace.open', () => {
  it('fails with a UserError naming a folder that is not a git repository', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const opening = GitWorkspace.open(dir.path);
    await expect(opening).rejects.toBeInstanceOf(UserError);
    await expect(opening).rejects.toThrow(`${dir.path} is not a git repository`);
  });

  it('fails with a UserError for a repository without commits', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    git(dir.path, 'init', '-q');
    await expect(GitWorkspace.open(dir.path)).rejects.toThrow(/has no commits/);
  });

  it('finds the top level from a subfolder and puts worktrees in the git dir by default', async () => {
    const t = await setUp();
    const ws = await GitWorkspace.open(join(t.repo, 'src'), { runId: 'r7' });
    const gitDir = await realpath(join(t.repo, '.git'));
    expect(ws.repo).toBe(await realpath(t.repo));
    expect(ws.gitDir).toBe(gitDir);
    expect(ws.worktreeRoot).toBe(defaultWorktreeRoot(gitDir, 'r7'));
    expect(ws.worktreeRoot).toBe(join(gitDir, 'ratchet', 'worktrees', 'r7'));
  });

  it('refuses a worktree folder inside the checkout unless the repository ignores it', async () => {
    const t = await setUp();
    await expect(GitWorkspace.open(t.repo, { worktreeRoot: join(t.repo, 'wt') })).rejects.toThrow(/inside the checkout/);
    await expect(GitWorkspace.open(t.repo, { worktreeRoot: join(t.repo, 'dist', 'wt') })).resolves.toBeInstanceOf(GitWorkspace);
  });
});

describe('createWorktree', () => {
  it('checks the commit out on its own ref in the run folder', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    expect(wt).toEqual({ path: join(t.ws.worktreeRoot, 'e0001'), ref: experimentRef('run1', 1) });
    expect(await readFile(join(wt.path, 'src/sort.js'), 'utf8')).toContain('export const sort');
    expect(git(wt.path, 'status', '--porcelain')).toBe('');
    expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(t.head);
    expect(await t.ws.readRef(wt.ref)).toBe(t.head);
  });

  it('creates sixteen worktrees of one repository at once', async () => {
    const t = await setUp();
    const created = await Promise.all(
      Array.from({ length: 16 }, (_, i) => t.ws.createWorktree({ ref: experimentRef('run1', i + 1), commit: t.head, name: `e${i + 1}` })),
    );
    expect(new Set(created.map((w) => w.path)).size).toBe(16);
    for (const wt of created) {
      expect(git(wt.path, 'status', '--porcelain')).toBe('');
      expect(existsSync(join(wt.path, 'bench/run.js'))).toBe(true);
    }
    expect(worktreeList(t.repo)).toHaveLength(17);
    expect((await t.ws.listRefs('refs/heads/ratchet/run1/')).size).toBe(16);
  });

  it('refuses a name that is already in use', async () => {
    const t = await setUp();
    await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await expect(t.ws.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0001' })).rejects.toBeInstanceOf(InternalError);
    expect(await t.ws.readRef(experimentRef('run1', 2))).toBeUndefined();
  });

  it('refuses to move the branch the user has checked out', async () => {
    const t = await setUp();
    git(t.repo, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = git(t.repo, 'rev-parse', 'HEAD');
    await expect(t.ws.createWorktree({ ref: 'refs/heads/main', commit: t.head, name: 'x' })).rejects.toThrow(/refs\/heads\/main is checked out/);
    expect(git(t.repo, 'rev-parse', 'HEAD')).toBe(second);
    expect(worktreeList(t.repo)).toHaveLength(1);
  });
});

describe('commitAll', () => {
  it('commits modified, deleted and new files and describes the change', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(wt.path, 'src/sort.js'), 'export const sort = (xs) => xs.toSorted((a, b) => a - b);\n');
    await rm(join(wt.path, 'src/util.js'));
    await mkdir(join(wt.path, 'src/new'));
    await writeFile(join(wt.path, 'src/new/fast.js'), 'a\nb\n');

    const candidate = await t.ws.commitAll(wt, 'use toSorted');
    expect(candidate).toBeDefined();
    const { commit, files, insertions, deletions, patch } = candidate!;
    expect(files).toEqual(['src/new/fast.js', 'src/sort.js', 'src/util.js']);
    expect({ insertions, deletions }).toEqual({ insertions: 3, deletions: 2 });
    expect(patch).toContain('diff --git a/src/sort.js b/src/sort.js');
    expect(patch!.endsWith('\n')).toBe(true);
    expect(await t.ws.readRef(wt.ref)).toBe(commit);
    expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(commit);
    expect(git(t.repo, 'log', '-1', '--format=%P|%s|%an <%ae>|%cn <%ce>', commit)).toBe(`${t.head}|use toSorted|ratchet <ratchet@localhost>|ratchet <ratchet@localhost>`);
    expect(git(wt.path, 'status', '--porcelain')).toBe('');
  });

  it('returns undefined when nothing changed', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await expect(t.ws.commitAll(wt, 'nothing')).resolves.toBeUndefined();
    expect(await t.ws.readRef(wt.ref)).toBe(t.head);
  });

  it('leaves out what setup created: a symlink, a build folder and what lands in it later, a file it rewrote', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    // "setup"
    await mkdir(join(wt.path, 'build/cache'), { recursive: true });
    await writeFile(join(wt.path, 'build/cache/out.bin'), 'artifact');
    await symlink('/tmp', join(wt.path, 'data-link'));
    await writeFile(join(wt.path, 'README.md'), '# rewritten by setup\n');
    const exclude = new Set(await t.ws.changedPaths(wt.path));
    expect([...exclude]).toEqual(['README.md', 'build/cache/out.bin', 'data-link']);
    // "agent"
    await writeFile(join(wt.path, 'src/sort.js'), 'export const sort = () => [];\n');
    await writeFile(join(wt.path, 'build/cache/more.bin'), 'more artifact');

    await mkdir(join(wt.path, 'src/gen'));
    await writeFile(join(wt.path, 'src/gen/helper.js'), 'agent file in a new folder\n');

    expect(await t.ws.changedPaths(wt.path, { exclude: new Set(['build/', 'data-link', 'README.md']) })).toEqual(['src/gen/helper.js', 'src/sort.js']);
    const candidate = await t.ws.commitAll(wt, 'empty sort', { exclude });
    expect(candidate?.files).toEqual(['src/gen/helper.js', 'src/sort.js']);
    expect(git(t.repo, 'ls-tree', '-r', '--name-only', candidate!.commit)).not.toMatch(/data-link|build|\.bin/);
    expect(git(t.repo, 'show', `${candidate!.commit}:README.md`)).toBe('# target');
  });

  it('commits without any user identity, signing or hooks taking part', async () => {
    const t = await setUp();
    git(t.repo, 'config', '--unset', 'user.name');
    git(t.repo, 'config', '--unset', 'user.email');
    git(t.repo, 'config', 'commit.gpgsign', 'true');
    git(t.repo, 'config', 'user.signingkey', 'no-such-key');
    const marker = join(t.repo, 'hook-ran');
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'reference-transaction', 'post-checkout']) {
      await writeFile(join(t.repo, '.git/hooks', hook), `#!/bin/sh\necho ${hook} >> "${marker}"\nexit 1\n`, { mode: 0o755 });
    }
    const ws = await GitWorkspace.open(t.repo, { runId: 'run1' });
    const home = await tempDir();
    cleanups.push(home.cleanup);
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, GIT_CONFIG_NOSYSTEM: process.env.GIT_CONFIG_NOSYSTEM };
    Object.assign(process.env, { HOME: home.path, XDG_CONFIG_HOME: home.path, GIT_CONFIG_NOSYSTEM: '1' });
    // git's environment is a copy of process.env made once: made again from the one set here.
    resetGitEnv();
    try {
      const wt = await ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
      await writeFile(join(wt.path, 'src/sort.js'), 'changed\n');
      const candidate = await ws.commitAll(wt, '# a message that starts with a hash');
      expect(git(t.repo, 'log', '-1', '--format=%an|%B', candidate!.commit)).toBe('ratchet|# a message that starts with a hash');
      await ws.updateRef('refs/heads/ratchet/run1/best', candidate!.commit);
      await ws.removeWorktree(wt.path);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      resetGitEnv();
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('folds commits the agent made by itself into the candidate', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(wt.path, 'bench/run.js'), 'console.log("METRIC ops=1e9");\n');
    git(wt.path, 'commit', '-q', '-am', 'sneaky');
    await writeFile(join(wt.path, 'src/sort.js'), 'changed\n');
    const candidate = await t.ws.commitAll(wt, 'faster');
    expect(candidate?.files).toEqual(['bench/run.js', 'src/sort.js']);
    expect(git(t.repo, 'rev-parse', `${candidate!.commit}^`)).toBe(t.head);
  });

  it('writes a binary-safe patch that recreates the change on the parent', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    const bytes = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13, 0]);
    await writeFile(join(wt.path, 'src/table.bin'), bytes);
    const candidate = await t.ws.commitAll(wt, 'add a table');
    expect(candidate).toMatchObject({ files: ['src/table.bin'], insertions: 0, deletions: 0 });

    const other = await t.ws.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    const patchFile = join(other.path, '..', 'table.patch');
    await writeFile(patchFile, candidate!.patch!);
    git(other.path, 'apply', patchFile);
    expect(await readFile(join(other.path, 'src/table.bin'))).toEqual(bytes);
  });

  it('keeps a patch of a text file that is not UTF-8 exact by diffing it as binary', async () => {
    const t = await setUp();
    const latin1 = Buffer.from('caf\xe9 cr\xe8me\n', 'latin1');
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(wt.path, 'src/menu [fr].txt'), latin1);
    await writeFile(join(wt.path, 'src/sort.js'), 'still a readable diff\n');
    const candidate = await t.ws.commitAll(wt, 'add a Latin-1 menu');
    expect(candidate!.patch).not.toContain('\ufffd');
    expect(candidate!.patch).toContain('+still a readable diff');
    expect(candidate!.patch).toContain('GIT binary patch');

    const other = await t.ws.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    const patchFile = join(other.path, '..', 'menu.patch');
    await writeFile(patchFile, candidate!.patch!);
    git(other.path, 'apply', patchFile);
    expect(await readFile(join(other.path, 'src/menu [fr].txt'))).toEqual(latin1);
  });

  it("keeps the patch exactly as git's own diff writes it, odd path names and a binary file included", async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(wt.path, 'src/t\tab é.txt'), 'tab\n');
    await writeFile(join(wt.path, 'src/:colon'), 'colon\n');
    await writeFile(join(wt.path, 'src/blob.bin'), Buffer.from([0, 1, 2, 0]));
    await writeFile(join(wt.path, 'src/sort.js'), 'changed\n');
    const candidate = await t.ws.commitAll(wt, 'odd names');
    const own = git(t.repo, 'diff', '--no-ext-diff', '--no-textconv', '--no-color', '--no-renames', '--binary', '--src-prefix=a/', '--dst-prefix=b/', t.head, candidate!.commit, '--');
    expect(candidate!.patch).toBe(`${own}\n`);
    expect(candidate!.files).toEqual(['src/:colon', 'src/blob.bin', 'src/sort.js', 'src/t\tab é.txt']);
    expect(candidate!.binary).toEqual(['src/blob.bin']);
    expect(candidate!.insertions).toBe(3);
    expect(candidate!.patchBytes).toBe(Buffer.byteLength(candidate!.patch!));
  });

  it('counts a patch over max_patch_bytes to its end without keeping it, and keeps one at the limit', async () => {
    const t = await setUp();
    const wt = await t.ws.createWorktree({ ref: experimentRef('run1', 1), commit: t.head, name: 'e0001' });
    await writeFile(join(wt.path, 'src/big.txt'), 'line of a large change\n'.repeat(20_000));
    const whole = await t.ws.commitAll(wt, 'big');
    const size = whole!.patchBytes;
    expect(size).toBeGreaterThan(400_000);
    const again = await t.ws.createWorktree({ ref: experimentRef('run1', 2), commit: t.head, name: 'e0002' });
    await writeFile(join(again.path, 'src/big.txt'), 'line of a large change\n'.repeat(20_000));
    const over = await t.ws.commitAll(again, 'big', { maxPatchBytes: size - 1 });
    expect(over).toMatchObject({ patch: undefined, patchBytes: size, files: ['src/big.txt'], insertions: 20_000 });
    const third = await t.ws.createWorktree({ ref: experimentRef('run1', 3), commit: t.head, name: 'e0003' });
    await writeFile(join(third.path, 'src/big.txt'), 'line of a large change\n'.repeat(20_000));
    const at = await t.ws.commitAll(third, 'big', { maxPatchBytes: size });
    expect(at!.patch).toBe(whole!.patch);
  });

  it('keeps every experiment reachable by its ref after its worktree is gone', async () => {
    const t = await setUp();
    const commits: string[] = [];
    for (const n of [1, 2, 3]) {
      const wt = await t.ws.createWorktree({ ref: experimentRef('run1', n), commit: t.head, name: `e000${n}` });
      await writeFile(join(wt.path, 'src/sort.js'), `version ${n}\n`);
      commits.push((await t.ws.commitAll(wt, `try ${n}`))!.commit);
      await t.ws.removeWorktree(wt.path);
      expect(existsSync(wt.path)).toBe(false);
    }
    git(t.repo, 'gc', '-q', '--prune=now');
    const refs = await t.ws.listRefs('refs/heads/ratchet/run1/');
    expect([...refs.values()]).toEqual(commits);
    expect(git(t.repo, 'show', `${experimentRef('run1', 2)}:src/sort.js`)).toBe('version 2');
    expect(worktreeList(t.repo)).toHaveLength(1);
  });
});

describe('refs', () => {
  it('creates and moves a ref, and refuses when it is not where the caller expects', async () => {
    const t = await setUp();
    git(t.repo, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = git(t.repo, 'rev-parse', 'HEAD');
    const best = 'refs/heads/ratchet/run1/best';
    await t.ws.updateRef(best, t.head);
    await t.ws.updateRef(best, second, t.head);
    expect(await t.ws.readRef(best)).toBe(second);
    const stale = t.ws.updateRef(best, t.head, t.head);
    await expect(stale).rejects.toBeInstanceOf(InternalError);
    await expect(stale).rejects.toThrow(`it is at ${second}, not ${t.head}`);
    expect(await t.ws.readRef(best)).toBe(second);
  });

  it('reads a missing ref as undefined and lists refs only under a prefix', async () => {
    const t = await setUp();
    expect(await t.ws.readRef('refs/heads/ratchet/run1/none')).toBeUndefined();
    await t.ws.updateRef('refs/heads/ratchet/run1/e0001', t.head);
    await t.ws.updateRef('refs/heads/ratchet/run10/e0001', t.head);
    expect(await t.ws.listRefs('refs/heads/ratchet/run1/')).toEqual(new Map([['refs/heads/ratchet/run1/e0001', t.head]]));
  });

  it('resolves a revision to a full sha or fails with a UserError', async () => {
    const t = await setUp();
    await expect(t.ws.resolve('main')).resolves.toBe(t.head);
    await expect(t.ws.resolve('no-such-branch')).rejects.toBeInstanceOf(UserError);
  });
});

describe('removeWorktree and reconcile', () => {
  it('refuses to remove a folder that is neither a worktree nor in the run folder', async () => {
    const t = await setUp();
    await expect(t.ws.removeWorktree(join(t.repo, 'src'))).rejects.toBeInstanceOf(InternalError);
    await expect(t.ws.removeWorktree(t.repo)).rejects.toBeInstanceOf(InternalError);
    expect(existsSync(join(t.repo, 'src/sort.js'))).toBe(true);
  });

  it('clears the worktrees a crashed run left behind and keeps their refs', async () => {
    const t = await setUp();
    const left = await Promise.all(
      [1, 2, 3].map((n) => t.ws.createWorktree({ ref: experimentRef('run1', n), commit: t.head, name: `e000${n}` })),
    );
    await mkdir(join(left[0]!.path, 'node_modules/pkg'), { recursive: true });
    await writeFile(join(left[0]!.path, 'node_modules/pkg/index.js'), '');
    // One folder deleted by hand (git still lists it), one half-deleted trash folder.
    await rm(left[2]!.path, { recursive: true, force: true });
    await mkdir(join(t.ws.worktreeRoot, '.trash-e0009-abcd/x'), { recursive: true });
    // A worktree of another run must survive.
    const other = await GitWorkspace.open(t.repo, { runId: 'run2' });
    const kept = await other.createWorktree({ ref: experimentRef('run2', 1), commit: t.head, name: 'e0001' });

    const fresh = await GitWorkspace.open(t.repo, { runId: 'run1' });
    const removed = await fresh.reconcile(fresh.worktreeRoot);
    expect(removed).toEqual(left.map((w) => w.path));
    for (const wt of left) expect(existsSync(wt.path)).toBe(false);
    expect(existsSync(join(t.ws.worktreeRoot, '.trash-e0009-abcd'))).toBe(false);
    expect(worktreeList(t.repo)).toEqual([await realpath(t.repo), kept.path]);
    expect((await fresh.listRefs('refs/heads/ratchet/run1/')).size).toBe(3);
    await expect(fresh.reconcile(fresh.worktreeRoot)).resolves.toEqual([]);
  });

  it('refuses to reconcile a folder that holds the repository', async () => {
    const t = await setUp();
    await expect(t.ws.reconcile(join(t.repo, '..'))).rejects.toBeInstanceOf(InternalError);
  });

  it('can run on a repository that is itself a linked worktree', async () => {
    const dir = await gitdir({ 'a.txt': 'a\n' });
    cleanups.push(dir.cleanup);
    const linked = join(dir.path, '..', `${dir.path.split('/').at(-1)!}-linked`);
    git(dir.path, 'worktree', 'add', '-q', '--detach', linked);
    cleanups.push(() => rm(linked, { recursive: true, force: true }));
    const ws = await GitWorkspace.open(linked, { runId: 'r' });
    expect(ws.gitDir).toBe(await realpath(join(dir.path, '.git')));
    const wt = await ws.createWorktree({ ref: experimentRef('r', 1), commit: 'HEAD', name: 'e0001' });
    expect(await readFile(join(wt.path, 'a.txt'), 'utf8')).toBe('a\n');
  });
});
