/**
 * The effects the loop needs from the world, as interfaces: git (Workspace) and processes
 * (CommandRunner). Adapters in src/git and src/proc implement them.
 */

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
  createWorktree(options: { ref: string; commit: string; name: string }): Promise<Worktree>;
  /** Paths the worktree changed against its HEAD: modified, deleted and untracked (not ignored). */
  changedPaths(worktree: string, options?: { exclude?: ReadonlySet<string> }): Promise<string[]>;
  /**
   * Commit everything the worktree changed (except `exclude`, e.g. what setup created) on its
   * ref with `message`; returns undefined when nothing changed.
   */
  commitAll(worktree: Worktree, message: string, options?: { exclude?: ReadonlySet<string>; maxPatchBytes?: number }): Promise<CandidateCommit | undefined>;
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

export interface CommandResult {
  exitCode: number | undefined;
  /** The signal that ended the process, if one did. */
  signal: string | undefined;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The last `captureBytes` of stdout and stderr interleaved, as text. */
  output: string;
  /** True when the log file was cut at its size cap. */
  truncated: boolean;
  /** True when it ran inside the bubblewrap sandbox. */
  sandboxed?: boolean;
}

/** One mount inside the sandbox, applied in order (a later one covers an earlier one). */
export interface SandboxMount {
  /** `ro`: visible read-only; `rw`: writable; `hide`: an empty private folder over it (what was there is not visible). */
  kind: 'ro' | 'rw' | 'hide';
  path: string;
}

/** What one command may see, chosen by the caller, who knows the worktree and the repository. */
export interface SandboxRequest {
  /** `auto`: bubblewrap when it works here, otherwise unconfined. */
  mode: 'auto' | 'bwrap' | 'none';
  mounts: readonly SandboxMount[];
  /** Share the host's network (setup with `setup_network`, a command agent's CLI). */
  network: boolean;
}

export interface CommandOptions {
  /** Run through `sh -c`. */
  command: string;
  cwd: string;
  timeoutMs: number;
  /** Appended to, with a header line; capped at `maxLogBytes`. */
  logFile: string;
  /** Extra variables on top of the allowlisted environment. */
  env?: Record<string, string>;
  /** Names (or `PREFIX*`) of variables allowed through from ratchet's own environment. */
  allowEnv?: readonly string[];
  /** Names never passed, whatever `allowEnv` says. */
  denyEnv?: readonly string[];
  signal?: AbortSignal;
  maxLogBytes?: number;
  captureBytes?: number;
  /** Run inside the sandbox (unless its mode resolves to none on this machine). */
  sandbox?: SandboxRequest;
  /** Memory and CPU for the command's whole process tree (`limits.memory`, `limits.cpu`). */
  limits?: { memoryBytes?: number | undefined; cpus?: number | undefined };
}

export interface CommandRunner {
  run(options: CommandOptions): Promise<CommandResult>;
}

// ---------------------------------------------------------------------------------------------
// Stage isolation (worker side)

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
