/**
 * Two locks per repository for git metadata operations: one for worktrees (add, remove, prune,
 * and a worker's fetch into its own clone), one for ratchet's ref updates. Concurrent `git
 * worktree add` on one repository fails most of the time (a prune removes the admin folder of a
 * worktree being added), and two updates of one ref fail rather than wait, so each kind is
 * serialised: in-process by a promise chain keyed by the common git dir, across processes by a
 * lock directory in that git dir (proper-lockfile: atomic mkdir, mtime refresh, stale takeover).
 *
 * They are two because the two kinds do not touch each other's files (a detached worktree's add
 * writes its own admin folder and its own HEAD, never a shared ref), and with one lock a commit's
 * ref update waited behind every worktree being made: at the start of a run with many candidates
 * and workers, behind all of them. A holder of both takes the worktrees lock first.
 */
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { InternalError, UserError } from '../domain/errors.js';

export interface RepoLockOptions {
  /** A lock whose holder has not refreshed it for this long is taken over (a crashed process). */
  staleMs?: number;
  /** How long to wait for another process before giving up. */
  timeoutMs?: number;
}

const DEFAULT_STALE_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 180_000;
// Holders keep the lock for tens of milliseconds, so waiters poll often rather than back off far.
const MIN_RETRY_MS = 10;
const MAX_RETRY_MS = 100;

export type LockScope = 'worktrees' | 'refs';

/** The lock directory of a repository, beside ratchet's other files in the common git dir. */
export function lockPath(gitCommonDir: string, scope: LockScope = 'worktrees'): string {
  return join(gitCommonDir, 'ratchet', scope === 'worktrees' ? 'repo.lock' : 'refs.lock');
}

/**
 * Lock folders this process holds. A process that exits while holding one (a second Ctrl-C ends
 * ratchet with process.exit in the middle of its cleanup) removes them on its way out; left
 * behind, the next session would wait for the lock to turn stale (30 s) before it could start.
 */
const held = new Set<string>();
let releaseOnExit = false;
function holding(path: string): void {
  held.add(path);
  if (releaseOnExit) return;
  releaseOnExit = true;
  process.on('exit', () => {
    for (const lock of held) rmSync(lock, { recursive: true, force: true });
  });
}

// Tail of each repository's queue of in-process holders; it never rejects.
const tails = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding the repository's worktrees lock. Not re-entrant: `fn` must not take the same
 * lock. `gitCommonDir` is `git rev-parse --git-common-dir`, so every worktree of a repository shares it.
 */
export function withRepoLock<T>(gitCommonDir: string, fn: () => Promise<T>, options: RepoLockOptions = {}): Promise<T> {
  return withLock(gitCommonDir, 'worktrees', fn, options);
}

/** Runs `fn` holding the repository's refs lock (ratchet's ref updates). Not re-entrant either. */
export function withRefLock<T>(gitCommonDir: string, fn: () => Promise<T>, options: RepoLockOptions = {}): Promise<T> {
  return withLock(gitCommonDir, 'refs', fn, options);
}

async function withLock<T>(gitCommonDir: string, scope: LockScope, fn: () => Promise<T>, options: RepoLockOptions): Promise<T> {
  // Keyed synchronously so holders queue in call order. Two spellings of one folder make two
  // queues, which the file lock still keeps apart; GitWorkspace passes the real path.
  const dir = resolve(gitCommonDir);
  const key = `${scope}\0${dir}`;
  const previous = tails.get(key) ?? Promise.resolve();
  let done!: () => void;
  const current = new Promise<void>((resolve) => (done = resolve));
  const tail = previous.then(() => current);
  tails.set(key, tail);
  try {
    await previous;
    return await withFileLock(dir, scope, fn, options);
  } finally {
    done();
    if (tails.get(key) === tail) tails.delete(key);
  }
}

async function withFileLock<T>(gitCommonDir: string, scope: LockScope, fn: () => Promise<T>, options: RepoLockOptions): Promise<T> {
  const path = lockPath(gitCommonDir, scope);
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await mkdir(join(gitCommonDir, 'ratchet'), { recursive: true });
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    // The lock directory names the resource too: proper-lockfile keeps its locks by resource,
    // and the two locks of one repository must not be taken for one.
    release = await lockfile.lock(path, {
      lockfilePath: path,
      realpath: false,
      stale: staleMs,
      update: Math.max(1_000, Math.floor(staleMs / 4)),
      // Randomised waits up to MAX_RETRY_MS (times up to 2) until about timeoutMs has passed.
      retries: { retries: Math.ceil(timeoutMs / MAX_RETRY_MS), minTimeout: MIN_RETRY_MS, maxTimeout: MAX_RETRY_MS, factor: 1.5, randomize: true },
      onCompromised: (error) => {
        compromised = error;
      },
    });
  } catch (error) {
    throw new UserError(`could not lock the repository: ${path} is held by another process`, {
      hint: `if no ratchet process is running on this repository, remove ${path}`,
      fields: { path },
      cause: error,
    });
  }
  holding(path);
  try {
    return await fn();
  } finally {
    held.delete(path);
    // A compromised lock rejects on release; the error below says what happened.
    await release().catch(() => undefined);
    if (compromised !== undefined) {
      // Thrown from `finally`, this replaces fn's result: work done without the lock is suspect.
      // eslint-disable-next-line no-unsafe-finally
      throw new InternalError(`the repository lock ${path} was lost while held: ${compromised.message}`, { path });
    }
  }
}
