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
  /** `git diff parent commit`, binary-safe, as written to `patch.diff`. */
  patch: string;
  /** Paths changed relative to the parent (added, modified, deleted, both sides of renames). */
  files: string[];
  insertions: number;
  deletions: number;
}

export interface Workspace {
  /** The repository's top-level folder. */
  readonly repo: string;
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
  commitAll(worktree: Worktree, message: string, options?: { exclude?: ReadonlySet<string> }): Promise<CandidateCommit | undefined>;
  /** Move (or create) a ref, optionally only if it still points at `expected`. Under the lock. */
  updateRef(ref: string, commit: string, expected?: string): Promise<void>;
  readRef(ref: string): Promise<string | undefined>;
  /** Refs under a prefix (`refs/heads/ratchet/<run>/`), name → sha. */
  listRefs(prefix: string): Promise<Map<string, string>>;
  /** Remove a worktree (forcefully: it may hold build output) and prune. Under the lock. */
  removeWorktree(path: string): Promise<void>;
  /** Remove worktrees under `root` left behind by a crashed run, then prune. Returns their paths. */
  reconcile(root: string): Promise<string[]>;
  /** Restore `paths` in a worktree to their content at `commit` (deleting those absent there). */
  restorePaths(worktree: string, commit: string, globs: readonly string[]): Promise<string[]>;
  /** Paths matching `globs` whose content in the worktree differs from `commit`. */
  diffPaths(worktree: string, commit: string, globs: readonly string[]): Promise<string[]>;
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
  signal?: AbortSignal;
  maxLogBytes?: number;
  captureBytes?: number;
}

export interface CommandRunner {
  run(options: CommandOptions): Promise<CommandResult>;
}
