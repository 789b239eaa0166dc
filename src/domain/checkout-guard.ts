/**
 * Stage isolation (worker side): what the stage executor needs of git so that each stage starts
 * from the committed tree plus setup's outputs. src/git/checkout-guard.ts implements it.
 */
import type { RepoSnapshot } from './workspace.js';

/** A worktree as setup left it, for one commit: plain data, kept by the worker between stages. */
export interface CheckoutRecord {
  readonly commit: string;
  /** Path → stamp of every file, link and folder (not the `.git` link). */
  readonly tree: ReadonlyMap<string, string>;
  /** Files of the commit. */
  readonly tracked: ReadonlySet<string>;
  /** Tracked files setup changed or removed. */
  readonly setupTouched: ReadonlySet<string>;
}

export type CheckoutRestore =
  | { ok: true; record: CheckoutRecord; restored: string[]; removed: string[] }
  /** Something of setup's own changed: only running setup again makes it right. */
  | { ok: false; setupChanged: string[] };

/**
 * What the stage executor needs of git so that each stage starts from the committed tree plus
 * setup's outputs, and what a stage did to the worktree and the repository is found and undone.
 */
export interface CheckoutGuard {
  /** The worktree exactly at `commit`: nothing untracked or ignored left. */
  clean(worktree: string, commit: string): Promise<void>;
  record(worktree: string, commit: string): Promise<CheckoutRecord>;
  restore(worktree: string, record: CheckoutRecord): Promise<CheckoutRestore>;
  /** Protected paths changed since `record`: tracked ones, or added and not ignored. */
  protectedTouched(worktree: string, record: CheckoutRecord, globs: readonly string[]): Promise<string[]>;
  /** A quick look at the protected paths alone: has any changed since `record`? */
  protectedChanged(worktree: string, record: CheckoutRecord, globs: readonly string[]): Promise<boolean>;
  /** Whether the worktree's `.git` link still leads to its admin folder in `gitDir` and back. */
  linkOk(worktree: string, gitDir: string): Promise<boolean>;
  /** Rewrites a broken link; false when the worktree must be made anew. */
  repairLink(worktree: string, gitDir: string): Promise<boolean>;
  snapshotRepo(gitDir: string, options?: { checkout?: boolean }): Promise<RepoSnapshot>;
  /** Puts back what changed since `before`; returns what that was (`moved refs/heads/main`). */
  undoRepoChanges(gitDir: string, before: RepoSnapshot): Promise<string[]>;
  /**
   * Puts the user's checkout back as `before.checkout` had it, copying what is there now under
   * `aside` first; returns the paths that had changed.
   */
  undoCheckoutChanges(gitDir: string, before: RepoSnapshot, aside: string): Promise<string[]>;
}
