/**
 * The git steps of harvesting a run: a temporary worktree (inside the git dir, so the user's
 * checkout is never touched), cherry-picks there, and the commands a user types to finish or
 * abort one that stopped.
 */
import { simpleGit } from 'simple-git';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { git, splitNul } from '../git/exec.js';
import { withRepoLock } from '../git/lock.js';
import { exists, listWorktrees } from '../git/worktrees.js';
import { shellWord } from '../util/shell.js';

export interface Repo {
  /** The target's checkout (run.json `target`). */
  path: string;
  /** The common git dir. */
  gitDir: string;
  /** `-c user.name=… -c user.email=…` when the user has no identity of their own, else none. */
  identity: string[];
}

export async function openRepo(path: string): Promise<Repo> {
  const dirs = await git(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: path, allowFailure: true });
  if (dirs.exitCode !== 0) throw new UserError(`the run's target ${path} is not a git repository any more`, { hint: 'harvest on the machine and in the clone the run used' });
  // Commits made here are the user's; ratchet's name stands in only where git has none.
  const ident = await git(['var', 'GIT_COMMITTER_IDENT'], { cwd: path, allowFailure: true });
  const identity = ident.exitCode === 0 ? [] : ['-c', 'user.name=ratchet', '-c', 'user.email=ratchet@localhost'];
  return { path, gitDir: dirs.stdout.trim(), identity };
}

/** Quoted for a POSIX shell when it needs to be. */
export const shellQuote = shellWord;

export function gitLine(args: readonly string[]): string {
  return ['git', ...args].map(shellQuote).join(' ');
}

/**
 * Tracked files with uncommitted changes (staged or not); untracked files do not count.
 * simple-git parses porcelain status (renames, quoting) so we do not have to.
 */
export async function dirtyFiles(cwd: string): Promise<string[]> {
  // No optional locks: a status must not rewrite the user's index (its stat cache) as a side effect.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' };
  const git = simpleGit({ baseDir: cwd, allowEnvironment: ['GIT_OPTIONAL_LOCKS', 'GIT_TERMINAL_PROMPT'] }).env(env);
  const status = await git.status(['--untracked-files=no']);
  return status.files.map((f) => f.path);
}

export async function refuseDirty(cwd: string): Promise<void> {
  const dirty = await dirtyFiles(cwd);
  if (dirty.length === 0) return;
  const shown = dirty.slice(0, 10).join(', ') + (dirty.length > 10 ? `, and ${dirty.length - 10} more` : '');
  throw new UserError(`the working tree of ${cwd} has uncommitted changes: ${shown}`, {
    hint: `commit them, or put them aside with: git -C ${shellQuote(cwd)} stash (and git stash pop afterwards), then pick again`,
    fields: { dirty },
  });
}

/** The commit a branch points at, or undefined when there is no such branch. */
export async function branchCommit(repo: string, branch: string): Promise<string | undefined> {
  const r = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { cwd: repo, allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function checkBranchName(repo: string, branch: string): Promise<void> {
  const r = await git(['check-ref-format', '--branch', branch], { cwd: repo, allowFailure: true });
  if (r.exitCode !== 0) throw new UserError(`"${branch}" is not a valid branch name`);
}

/** The worktree where `branch` is checked out, if any. */
export async function checkedOutAt(repo: string, branch: string): Promise<string | undefined> {
  return (await listWorktrees(repo)).find((w) => w.branch === `refs/heads/${branch}`)?.path;
}

export interface TempWorktree {
  path: string;
  /** The worktree's own git dir (`<gitDir>/worktrees/<name>`): removed with it. */
  adminDir: string;
  /** Its name for `worktrees/<name>/HEAD`, a revision every worktree of the repo can read. */
  name: string;
}

/** A worktree ratchet picks in, detached at `commit`; refuses when one is left from before. */
export async function addTempWorktree(repo: Repo, name: string, commit: string, leftover: (path: string) => UserError): Promise<TempWorktree> {
  const root = join(repo.gitDir, 'ratchet', 'harvest');
  const path = join(root, name);
  if (await exists(path)) throw leftover(path);
  await mkdir(root, { recursive: true });
  // Concurrent `worktree add` on one repository fails: a running run may be adding its own.
  await withRepoLock(repo.gitDir, () => git(['worktree', 'add', '--quiet', '--detach', path, commit], { cwd: repo.path }));
  const admin = await git(['rev-parse', '--absolute-git-dir'], { cwd: path });
  const adminDir = admin.stdout.trim();
  return { path, adminDir, name: adminDir.split('/').at(-1) ?? name };
}

export async function removeTempWorktree(repo: Repo, worktree: TempWorktree): Promise<void> {
  await withRepoLock(repo.gitDir, () => git(['worktree', 'remove', '--force', worktree.path], { cwd: repo.path }));
}

export interface CherryPickStop {
  /** The commit that did not apply. */
  commit: string | undefined;
  /** How many commits were applied before it. */
  applied: number;
  /** Files with conflicts (none when the pick stopped for another reason, e.g. it became empty). */
  files: string[];
  message: string;
}

/** Cherry-picks `commits` in order in `cwd`; on a stop, leaves the sequence in progress and says where. */
export async function cherryPick(repo: Repo, cwd: string, start: string, commits: readonly string[], options: { recordOrigin: boolean }): Promise<CherryPickStop | undefined> {
  const result = await git([...repo.identity, 'cherry-pick', ...(options.recordOrigin ? ['-x'] : []), ...commits], { cwd, allowFailure: true });
  if (result.exitCode === 0) return undefined;
  const head = await git(['rev-parse', '--verify', '--quiet', 'CHERRY_PICK_HEAD'], { cwd, allowFailure: true });
  const count = await git(['rev-list', '--count', `${start}..HEAD`], { cwd });
  const conflicted = await git(['diff', '--name-only', '--diff-filter=U', '-z'], { cwd });
  return {
    commit: head.exitCode === 0 ? head.stdout.trim() : undefined,
    applied: Number(count.stdout.trim()),
    files: splitNul(conflicted.stdout),
    message: (result.stderr || result.stdout).trim(),
  };
}

export async function treeOf(cwd: string, rev: string): Promise<string | undefined> {
  const r = await git(['rev-parse', '--verify', '--quiet', `${rev}^{tree}`], { cwd, allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
