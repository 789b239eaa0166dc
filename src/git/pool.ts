/**
 * The worktree pool of a run: a finished experiment's worktree goes back to the pool instead of
 * being deleted, and the next experiment takes it and moves it to its own commit. Creating a
 * worktree writes every file of the repository and deleting one removes them all; moving one
 * rewrites only the files that differ, which on a repository of 20,000 files is most of an
 * experiment's overhead.
 *
 * A pooled worktree is handed out only after checks that make it as good as a new one: its
 * `.git` link leads to its own admin folder and back, the admin folder holds nothing but what
 * git itself keeps for a detached worktree (no rebase, merge, sparse-checkout, lock or config of
 * a candidate's), and after the reset nothing is left that the commit does not have: no
 * untracked file, no ignored one, no build output. One that fails is removed and a new one made.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanCheckout, leftovers, type CleanCheckoutOptions, linkTarget, repairWorktreeLink, worktreeLinkOk } from './checkout.js';
import { InternalError } from '../domain/errors.js';
import { exists } from './worktrees.js';

/** Pooled worktrees are named for their place in the pool, not for an experiment. */
export const POOL_NAME = /^pool-\d+$/;

/** What git keeps in a detached linked worktree's admin folder, and nothing else. */
const ADMIN_ENTRIES = new Set(['HEAD', 'ORIG_HEAD', 'commondir', 'gitdir', 'index', 'logs']);

/**
 * Idle worktrees kept for reuse at least; more are removed when they come back. The pool keeps
 * as many as were ever in use at once, when that is more: with `agent.parallel: 32` and room for
 * only four, most experiments made a worktree and deleted one, each under the repository lock.
 */
const DEFAULT_CAPACITY = 4;

/** An idle worktree being moved, or moved, to a commit before any experiment asked for it. */
export interface Ahead {
  commit: string;
  /** True once it is there and clean; false when it could not be made so (it is replaced). */
  done: Promise<boolean>;
  /** False while the move is under way (absent: not known, taken as ended). */
  settled?: boolean;
}

/** An `Ahead` that notes when its move has ended. */
export function aheadMove(commit: string, done: Promise<boolean>): Ahead {
  const ahead: Ahead = { commit, done, settled: false };
  void done.finally(() => (ahead.settled = true)).catch(() => undefined);
  return ahead;
}

export class WorktreePool {
  private readonly idle: string[] = [];
  private readonly leased = new Set<string>();
  /** Idle worktrees moved ahead of time (GitWorkspace.moveAhead), by path. */
  private readonly ahead = new Map<string, Ahead>();
  /** The most worktrees leased at once. */
  private peak = 0;
  private next = 1;

  constructor(
    private readonly root: string,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  /**
   * An idle worktree, taken out of the pool; undefined when there is none. In this order: one
   * moved ahead to `commit`; one on its way there; one with no move under way (a move to a
   * commit no longer asked for, as after a keep, would be waited for and then undone); the most
   * recently given back. `ahead`: its move ahead of time, to be awaited before it is moved again.
   */
  take(commit?: string): { path: string; ahead: Ahead | undefined } | undefined {
    const ended = (path: string): boolean => this.ahead.get(path)?.settled !== false;
    const toCommit = (path: string): boolean => commit !== undefined && this.ahead.get(path)?.commit === commit;
    const fits = [(path: string) => toCommit(path) && ended(path), toCommit, ended];
    let at = -1;
    for (const fit of fits) if (at < 0) at = this.idle.findLastIndex(fit);
    const [path] = at >= 0 ? this.idle.splice(at, 1) : this.idle.splice(-1, 1);
    if (path === undefined) return undefined;
    const ahead = this.ahead.get(path);
    this.ahead.delete(path);
    return { path, ahead };
  }

  /** The most recently given back idle worktree, left in the pool, with its move ahead if any. */
  lastIdle(): { path: string; ahead: Ahead | undefined } | undefined {
    const path = this.idle.at(-1);
    return path === undefined ? undefined : { path, ahead: this.ahead.get(path) };
  }

  /** The idle worktree `path` is being moved to `ahead.commit`; ignored when it is not idle. */
  movingAhead(path: string, ahead: Ahead): void {
    if (this.idle.includes(path)) this.ahead.set(path, ahead);
  }

  /** Whether an idle worktree is moved ahead to `commit`, or on its way there. */
  hasAhead(commit: string): boolean {
    return [...this.ahead.values()].some((ahead) => ahead.commit === commit);
  }

  /** The moves ahead under way (or done) of the idle worktrees. */
  aheadMoves(): Promise<boolean>[] {
    return [...this.ahead.values()].map((ahead) => ahead.done);
  }

  /** The path for a new pooled worktree; `taken` says whether a path is in use on disk. */
  async freshPath(taken: (path: string) => Promise<boolean>): Promise<string> {
    for (;;) {
      const path = join(this.root, `pool-${this.next++}`);
      if (!(await taken(path))) return path;
    }
  }

  /** The worktree is an experiment's until it is released. */
  lease(path: string): void {
    this.leased.add(path);
    this.peak = Math.max(this.peak, this.leased.size);
  }

  private get room(): number {
    return Math.max(this.capacity, this.peak);
  }

  /** Back into the pool: true when it was leased from it and there is room; else the caller removes it. */
  release(path: string): boolean {
    if (!this.leased.delete(path)) return false;
    if (this.idle.length >= this.room) return false;
    this.idle.push(path);
    return true;
  }

  /** A worktree a crashed session left, kept for reuse (it is checked and reset when handed out). */
  adopt(path: string): boolean {
    if (this.idle.length >= this.room || this.idle.includes(path)) return false;
    this.idle.push(path);
    return true;
  }

  /** Every idle worktree, out of the pool, with the moves ahead still under way: the caller awaits those, then removes them (the run is over). */
  drain(): { paths: string[]; moving: Promise<boolean>[] } {
    const moving = this.aheadMoves();
    this.ahead.clear();
    return { paths: this.idle.splice(0), moving };
  }
}

/**
 * Whether a pooled worktree may be handed out again: its `.git` link works (repaired when a
 * candidate broke it) and its admin folder holds only what git keeps there.
 */
export async function poolable(worktree: string, gitDir: string): Promise<boolean> {
  if (!(await worktreeLinkOk(worktree, gitDir)) && !(await repairWorktreeLink(worktree, gitDir))) return false;
  const admin = await linkTarget(worktree);
  if (admin === undefined) return false;
  const entries = await readdir(admin).catch(() => undefined);
  return entries !== undefined && entries.every((name) => ADMIN_ENTRIES.has(name));
}

/**
 * Moves a pooled worktree to `commit`: HEAD, index and files at the commit, every untracked and
 * ignored file gone, checked after (unless the index is trusted, below). Its `.git` link is written anew (a new file), so a worker's
 * record of the worktree as an earlier experiment's setup left it (eval/isolation.ts, keyed by
 * the link's stamp) can never be taken for this one's. Throws when the worktree cannot be made
 * clean: the caller then replaces it.
 */
export async function resetPooled(worktree: string, commit: string, options: CleanCheckoutOptions = {}): Promise<void> {
  await relinkPooled(worktree);
  await cleanCheckout(worktree, commit, options);
  // With a trusted index the reset and the clean vouch for themselves: each fails (and the
  // worktree is replaced) when it cannot write or remove a file, and no flag can have hidden
  // one from them. Submodules are the exception: a clean leaves what lies in a submodule's folder.
  if (options.indexTrusted === true && !(await exists(join(worktree, '.gitmodules')))) return;
  const left = await leftovers(worktree);
  if (left.length > 0) throw new InternalError(`${worktree} is not clean after the reset: ${left.slice(0, 3).join(', ')}`, { worktree });
}

/**
 * Writes a pooled worktree's `.git` link anew (a new file: a new stamp), so that no record of
 * the worktree taken for an earlier experiment is found for the next by accident. Its files are
 * left as they are: `resetPooled` cleans them; a worker that may reuse setup's outputs leaves
 * that to setup (eval/setup-reuse.ts).
 */
export async function relinkPooled(worktree: string): Promise<void> {
  const admin = await linkTarget(worktree);
  if (admin === undefined) throw new InternalError(`${worktree} has no .git link`, { worktree });
  const temporary = join(worktree, `.git.${randomBytes(4).toString('hex')}`);
  await writeFile(temporary, `gitdir: ${admin}\n`);
  await rename(temporary, join(worktree, '.git'));
}
