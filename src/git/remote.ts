/**
 * Commits through a git remote, for workers on other machines: the orchestrator pushes the run's
 * base and each candidate under `refs/ratchet/<run>/…`; a worker keeps a bare clone of its own
 * per remote URL in its work folder, fetches the run's refs into it when a commit is missing, and
 * makes its worktrees there (git/eval-checkouts.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CommitSource } from '../domain/evaluation.js';
import { throwIfAborted } from '../domain/errors.js';
import type { LocatedRepository, RepositoryLocator } from './eval-checkouts.js';
import { missingCommits } from './eval-checkouts.js';
import { git } from './exec.js';
import { withRepoLock } from './lock.js';
import { canonical, exists } from './worktrees.js';

/** Where a run's commits go on its remote. */
export function remoteRef(runId: string, name: string): string {
  return `refs/ratchet/${runId}/${name}`;
}

/**
 * Pushes commits of `repo` to `url`, each to its ref (forced: a ref is the run's alone, and a
 * candidate re-applied on a newer best moves it). Returns git's complaint when the push failed.
 */
export async function pushCommits(repo: string, url: string, refs: readonly { commit: string; ref: string }[]): Promise<string | undefined> {
  const specs = refs.map(({ commit, ref }) => `+${commit}:${ref}`);
  const pushed = await git(['push', '--quiet', '--no-verify', '--end-of-options', url, ...specs], { cwd: repo, allowFailure: true });
  return pushed.exitCode === 0 ? undefined : pushed.stderr.trim() || `git push exited ${pushed.exitCode}`;
}

/** The folder of a remote's clone in a worker's work folder: one per URL. */
export function cloneDir(workdir: string, url: string): string {
  return join(workdir, 'repos', `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`);
}

/**
 * A worker's remotes: a bare clone per URL under `workdir`, fetched when a request needs a commit
 * it does not hold yet. Whatever goes wrong is a reason, never a throw: the job ends with it.
 */
export function remoteClones(workdir: string): RepositoryLocator {
  return async (source: CommitSource, commits: readonly string[], runId: string, signal: AbortSignal): Promise<LocatedRepository> => {
    if (source.kind !== 'remote') return { ok: false, reason: 'not a remote' };
    const { url } = source;
    const dir = cloneDir(await canonical(workdir), url);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const gitDir = await canonical(dir);
    // One fetch at a time per clone: concurrent fetches into one repository step on each other's locks.
    return withRepoLock(gitDir, async () => {
      if (!(await exists(join(gitDir, 'HEAD')))) await git(['init', '--quiet', '--bare', gitDir], { cwd: dirname(gitDir) });
      if ((await missingCommits(gitDir, commits)).length === 0) return { ok: true, gitDir };
      throwIfAborted(signal);
      const prefix = remoteRef(runId, '');
      const fetched = await git(['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--end-of-options', url, `+${prefix}*:${prefix}*`], { cwd: gitDir, allowFailure: true });
      if (fetched.exitCode !== 0) {
        return { ok: false, reason: `this worker cannot serve the job: fetching from the remote ${url} failed: ${fetched.stderr.trim().split('\n').slice(-2).join(' ') || `exit ${fetched.exitCode}`}` };
      }
      const missing = await missingCommits(gitDir, commits);
      if (missing.length > 0) return { ok: false, reason: `this worker cannot serve the job: the remote ${url} has no commit ${missing.join(', ')} under ${prefix}` };
      return { ok: true, gitDir };
    });
  };
}
