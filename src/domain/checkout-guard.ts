/**
 * Stage isolation (worker side): what the stage executor needs of git so that each stage starts
 * from the committed tree plus setup's outputs. src/git/checkout-guard.ts implements it.
 */
import type { EvaluationRequest } from './evaluation.js';
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
  /**
   * Set on the record of a clean checkout that no setup command changed since: nothing but the
   * commit and the base's protected paths is there to keep. `tree` then holds only the entries
   * at or under `scope` (the top folders of the protected globs' roots: all that the protected-path
   * checks and the sandbox's mounts look at), and a later stage gets the worktree made clean again
   * instead of put back from the record. On a large repository, a walk of every file less per stage.
   */
  readonly clean?: { readonly scope: readonly string[]; readonly protectedFrom: { readonly commit: string; readonly globs: readonly string[] } };
}

export type CheckoutRestore =
  | { ok: true; record: CheckoutRecord; restored: string[]; removed: string[] }
  /** Something of setup's own changed: only running setup again makes it right. */
  | { ok: false; setupChanged: string[] };

export type CheckoutCarry =
  | { ok: true; record: CheckoutRecord; removed: string[] }
  /** Something of setup's own changed: only running setup again makes it right. */
  | { ok: false; setupChanged: string[] };

/**
 * What the stage executor needs of git so that each stage starts from the committed tree plus
 * setup's outputs, and what a stage did to the worktree and the repository is found and undone.
 */
export interface CheckoutGuard {
  /**
   * The worktree exactly at `commit`: nothing untracked or ignored left. With `protectedFrom`,
   * the paths matching its globs are then made as they are in its commit (the run's base), so a
   * candidate that changed the evaluator is measured by the base's. Returns the record of that
   * state (as `record` would, from what the checkout itself knows: one look at the worktree less).
   * `alreadyClean`: the worktree is known to be exactly at `commit` (EvalPlace.fresh).
   */
  clean(worktree: string, commit: string, protectedFrom?: { commit: string; globs: readonly string[] }, options?: { alreadyClean?: boolean }): Promise<CheckoutRecord>;
  record(worktree: string, commit: string): Promise<CheckoutRecord>;
  /** `indexTrusted`: HEAD and index are as ratchet left them at the record (EvalPlace.trusted). */
  restore(worktree: string, record: CheckoutRecord, options?: { indexTrusted?: boolean }): Promise<CheckoutRestore>;
  /**
   * The worktree as `record` has it (setup's outputs unchanged, or `ok: false`), moved to
   * `commit` with those outputs kept: tracked files at `commit`, protected paths from
   * `protectedFrom`, nothing else. Returns the record of that state (setup.inputs).
   */
  carry(worktree: string, record: CheckoutRecord, commit: string, protectedFrom: { commit: string; globs: readonly string[] }): Promise<CheckoutCarry>;
  /** Path → blob id of the files of `commit` matching `globs`, from the repository. */
  inputs(gitDir: string, commit: string, globs: readonly string[]): Promise<ReadonlyMap<string, string>>;
  /** What the worktree holds beyond a clean checkout of its HEAD: empty when it is clean. */
  leftovers(worktree: string): Promise<string[]>;
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

/** Where a request's stages run on this worker: a repository it can use and its own worktrees in it. */
export interface EvalPlace {
  /** The repository's common git dir on this worker: watched, and visible read-only in the sandbox. */
  gitDir: string;
  /** The candidate's worktree (at no particular state: setup cleans it). */
  candidate: string;
  /** The parent's, when the request measures one. */
  parent: string | undefined;
  /**
   * Worktrees just moved to their commit and found clean, no stage run in them since: setup need
   * not check them out again (on a large repository, each checkout is a walk of every file).
   */
  fresh: ReadonlySet<string>;
  /**
   * Worktrees handed over from an earlier experiment of this worker with their files as it left
   * them (every command run in them ran sandboxed), not cleaned: setup either carries its
   * outputs over to the new commit (setup.inputs) or cleans them, and checks they are clean.
   */
  carried: ReadonlySet<string>;
  /**
   * Worktrees in which every command so far ran in the sandbox, where the git data is
   * read-only: their HEAD and index are as ratchet left them, so a restore need not put them back.
   */
  trusted: ReadonlySet<string>;
  /**
   * The stage is done with the worktrees: they may be reused, or removed once none holds them.
   * `unsandboxed`: a command of the stage ran outside the sandbox, so it could have written the
   * repository's git data (the worktree's index): the worktree then serves no other experiment.
   */
  release(use?: PlaceUse): void;
}

/** What a stage did in its place; without it, the worst is assumed. */
export interface PlaceUse {
  unsandboxed: boolean;
  /** A worktree of the place could not be made clean: it is replaced, never handed out again. */
  unfit?: boolean;
}

/** A place, or why this worker cannot serve the request (a reason for the user, not an error). */
export type OpenedPlace = { ok: true; place: EvalPlace } | { ok: false; reason: string };

/** The worker's worktrees for requests: made, reused and removed by the worker, never by the orchestrator. */
export interface EvalCheckouts {
  open(request: EvaluationRequest, signal: AbortSignal): Promise<OpenedPlace>;
  /** Removes every worktree this worker made. */
  close(): Promise<void>;
}
