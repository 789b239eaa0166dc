/**
 * What the loop needs of git, as an interface: worktrees, commits, refs, and a snapshot of what
 * a candidate must not change. src/git implements it (GitWorkspace).
 */

/**
 * `indexTrusted`, to createWorktree and commitAll: only ratchet has written the index of the
 * run's worktrees (every command in them, setup before the agent and the agent's own, runs in
 * the sandbox, where the git data is read-only), so no flag can hide a file there, no commit
 * or staging of the agent's can be in it, and a worktree ratchet reset is exactly at its commit.
 */
export interface CommitOptions {
  exclude?: ReadonlySet<string>;
  maxPatchBytes?: number;
  indexTrusted?: boolean;
}

export interface Worktree {
  /** Absolute path. */
  path: string;
  /** The branch or ref the experiment lives on: `ratchet/<run>/eNNNN`. */
  ref: string;
}

export interface CandidateCommit {
  commit: string;
  /** `git diff parent commit`, binary-safe, as written to `patch.diff`; undefined when over the size limit. */
  patch: string | undefined;
  /** Size of the patch in bytes (measured without producing it when it is over the limit). */
  patchBytes: number;
  /** Files git sees as binary. */
  binary: string[];
  /** Symlinks the change adds or changes, with their targets. */
  symlinks: { path: string; target: string }[];
  /** Paths changed relative to the parent (added, modified, deleted, both sides of renames). */
  files: string[];
  insertions: number;
  deletions: number;
}

/** A candidate re-applied on a newer best: its new commit, or the files that no longer merge. */
export type Reapplied =
  | { kind: 'applied'; commit: CandidateCommit }
  /** `files`: the paths git could not merge (empty when it failed before naming any); `reason` says so in words. */
  | { kind: 'conflict'; files: string[]; reason: string }
  /** Applied, but the new best already holds the whole change. */
  | { kind: 'empty' };

export interface Workspace {
  /** The repository's top-level folder. */
  readonly repo: string;
  /** The common git dir (`git rev-parse --git-common-dir`). */
  readonly gitDir: string;
  /** Full sha of a revision; throws a UserError when it does not resolve. */
  resolve(rev: string): Promise<string>;
  /**
   * A worktree for `ref` at `commit` under the run's worktree folder. Metadata operations run
   * under the repository lock; the checkout runs outside it.
   */
  createWorktree(options: { ref: string; commit: string; name: string; indexTrusted?: boolean }): Promise<Worktree>;
  /** Paths the worktree changed against its HEAD: modified, deleted and untracked (not ignored). */
  changedPaths(worktree: string, options?: { exclude?: ReadonlySet<string> }): Promise<string[]>;
  /**
   * Commit everything the worktree changed (except `exclude`, e.g. what setup created) on its
   * ref with `message`; returns undefined when nothing changed.
   */
  commitAll(worktree: Worktree, message: string, options?: CommitOptions): Promise<CandidateCommit | undefined>;
  /**
   * Re-apply `commit` on `onto` (a three-way cherry-pick, as git's merge machinery does it) in the
   * candidate's worktree, which is left at the new commit (or back at `onto` when it does not
   * apply); the worktree's ref moves to the new commit, whose message is the old one's.
   */
  reapply(worktree: Worktree, commit: string, onto: string, options?: { maxPatchBytes?: number }): Promise<Reapplied>;
  /** Whether the worktree's `.git` link still leads to its repository (an agent may break it). */
  worktreeLinkOk(path: string): Promise<boolean>;
  /** The repository's refs (not ratchet's), HEADs, config and hooks (`checkout`: the user's files too), to compare after an agent ran. */
  snapshotRepo(options?: { checkout?: boolean }): Promise<RepoSnapshot>;
  /** Puts back what changed since `before`; returns what that was. `aside`: where the checkout's changed files are copied first. */
  undoRepoChanges(before: RepoSnapshot, options?: { aside?: string }): Promise<string[]>;
  /** Move (or create) a ref, optionally only if it still points at `expected`. Under the lock. */
  updateRef(ref: string, commit: string, expected?: string): Promise<void>;
  readRef(ref: string): Promise<string | undefined>;
  /** Refs under a prefix (`refs/heads/ratchet/<run>/`), name → sha. */
  listRefs(prefix: string): Promise<Map<string, string>>;
  /** Remove a worktree (forcefully: it may hold build output) and prune. Under the lock. */
  removeWorktree(path: string): Promise<void>;
  /** Remove worktrees under `root` left behind by a crashed run, then prune. Returns their paths. */
  reconcile(root: string): Promise<string[]>;
}

/** The parts of a repository a candidate must not change: refs (not ratchet's), HEADs, config, hooks. */
export interface RepoSnapshot {
  readonly refs: ReadonlyMap<string, string>;
  readonly files: ReadonlyMap<string, string | undefined>;
  /** The user's checkout, when asked for (stages that may run unsandboxed). */
  readonly checkout?: CheckoutSnapshot | undefined;
}

/** The files `git status` lists in the user's checkout: a stamp each, the content of small ones. */
export interface CheckoutSnapshot {
  readonly path: string;
  readonly entries: ReadonlyMap<string, { readonly stamp: string; readonly content: string | undefined }>;
}
