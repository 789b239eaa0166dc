/**
 * The git workspace: one worktree per experiment under a root folder ratchet owns, each
 * experiment's commit kept on its own ref. Metadata operations (worktree add/remove/prune, ref
 * updates) run under the repository lock; checkouts and deletions of content run outside it.
 * With `pool`, worktrees are reused (pool.ts): removing one returns it to the pool, creating one
 * takes it back and moves it to the new commit. The user's own checkout (branch, index, files)
 * is never written to.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { InternalError, UserError } from '../domain/errors.js';
import type { CandidateCommit, CommitOptions, Reapplied, Workspace, Worktree } from '../domain/workspace.js';
import { listChangedPaths } from './changes.js';
import { git, LITERAL_PATHSPECS, RATCHET_IDENTITY } from './exec.js';
import { withRefLock, withRepoLock, type RepoLockOptions } from './lock.js';
import { describeCommit } from './patch.js';
import { reapplyCommit } from './reapply.js';
import { headDetached, pointHead, worktreeLinkOk } from './checkout.js';
import { type Ahead, aheadMove, poolable, POOL_NAME, resetPooled, WorktreePool } from './pool.js';
import { snapshotRepo, undoRepoChanges } from './repo-guard.js';
import { undoCheckoutChanges } from './user-checkout.js';
import type { RepoSnapshot } from '../domain/workspace.js';
import { canonical, checkedOutBranches, exists, isInside, listWorktrees, moveAside, scanRoot } from './worktrees.js';

/** Where a run's worktrees live by default: inside the git dir, out of the user's sight. */
export function defaultWorktreeRoot(repoGitDir: string, runId: string): string {
  return join(repoGitDir, 'ratchet', 'worktrees', runId);
}

export interface OpenOptions {
  /** Folder that receives the worktrees; default `defaultWorktreeRoot(gitDir, runId)`. */
  worktreeRoot?: string;
  runId?: string;
  lock?: RepoLockOptions;
  /**
   * Reuse worktrees (pool.ts): they are named `pool-N` instead of after the experiment, and
   * stay on disk between experiments until `drainPool`.
   */
  pool?: boolean;
  /** With the pool, a move that takes at least this long is made ahead of time (0: always); default 30 ms. */
  moveAheadFromMs?: number;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** A pooled worktree's move that takes at least this long is made ahead of time (movesAhead). */
const MOVE_AHEAD_FROM_MS = 30;

export class GitWorkspace implements Workspace {
  /**
   * Commit ids this workspace verified or made. An object's id names its content, so one that
   * was a commit stays one: asking git again (a spawn per experiment) would tell nothing new.
   */
  private readonly commits = new Set<string>();
  /**
   * Where this workspace last pointed each experiment's ref. A guess, never trusted alone: the
   * commit's ref update names it as the old value, so a ref moved meanwhile fails the update
   * and the commit is made again from where the ref really is.
   */
  private readonly pointed = new Map<string, string>();
  /** Commit → tree, for the commits whose tree this workspace has seen (emptiness of a change is a tree compare). */
  private readonly trees = new Map<string, string>();
  /** Pooled worktrees leased to a confined experiment: moved ahead when they come back (leaseFrom). */
  private readonly trustedLeases = new Set<string>();
  /** The commit the last confined experiment asked for, where idle worktrees are moved ahead to; none after an unconfined one. */
  private aheadTo: string | undefined;
  /** A worktree being made to be moved ahead (leaseFrom): one at a time. */
  private making: Promise<void> | undefined;
  /** How long a pooled worktree's move takes here, smoothed over the last moves (movesAhead). */
  private moveMs: number | undefined;

  private constructor(
    readonly repo: string,
    /** The common git dir (`git rev-parse --git-common-dir`), shared by all worktrees. */
    readonly gitDir: string,
    readonly worktreeRoot: string,
    private readonly lockOptions: RepoLockOptions,
    private readonly pool: WorktreePool | undefined,
    private readonly moveAheadFromMs = MOVE_AHEAD_FROM_MS,
  ) {}

  /** Opens the repository containing `repoPath`; a UserError when there is none or it has no commits. */
  static async open(repoPath: string, options: OpenOptions = {}): Promise<GitWorkspace> {
    const path = resolvePath(repoPath);
    const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw new UserError(`${path} is not a folder`, { fields: { path } });
    const top = await git(['rev-parse', '--show-toplevel'], { cwd: path, allowFailure: true, discover: true });
    if (top.exitCode !== 0) {
      throw new UserError(`${path} is not a git repository (with a working tree)`, {
        hint: 'point ratchet at a folder inside a git repository',
        fields: { path },
      });
    }
    const repo = await canonical(top.stdout);
    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: repo, allowFailure: true });
    if (head.exitCode !== 0) {
      throw new UserError(`${repo} has no commits`, { hint: 'commit the code ratchet should improve first', fields: { path: repo } });
    }
    const dirs = await git(['rev-parse', '--path-format=absolute', '--git-common-dir', '--git-dir'], { cwd: repo });
    const [commonDir = '', ownGitDir = ''] = dirs.stdout.split('\n');
    const gitDir = await canonical(commonDir);
    const root = await canonical(options.worktreeRoot ?? defaultWorktreeRoot(gitDir, options.runId ?? 'default'));
    // Worktrees inside the checkout would show up in the user's `git status`.
    if (isInside(root, repo) && !isInside(root, gitDir) && !isInside(root, await canonical(ownGitDir))) {
      const ignored = await git(['check-ignore', '-q', '--no-index', root], { cwd: repo, allowFailure: true });
      if (ignored.exitCode !== 0) {
        throw new UserError(`the worktree folder ${root} is inside the checkout of ${repo}`, {
          hint: 'choose a folder outside the repository, or one it ignores',
          fields: { root, repo },
        });
      }
    }
    return new GitWorkspace(repo, gitDir, root, options.lock ?? {}, options.pool === true ? new WorktreePool(root) : undefined, options.moveAheadFromMs);
  }

  async resolve(rev: string): Promise<string> {
    const result = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd: this.repo, allowFailure: true });
    if (result.exitCode !== 0) throw new UserError(`${rev} is not a commit of ${this.repo}`, { fields: { rev, repo: this.repo } });
    this.commits.add(result.stdout);
    return result.stdout;
  }

  async createWorktree(options: { ref: string; commit: string; name: string; indexTrusted?: boolean }): Promise<Worktree> {
    const { ref, name } = options;
    checkRefName(ref);
    if (!NAME.test(name)) throw new InternalError(`bad worktree name ${JSON.stringify(name)}`, { name });
    const commit = await this.commitOf(options.commit);
    await mkdir(this.worktreeRoot, { recursive: true });
    if (this.pool !== undefined) return this.fromPool(this.pool, ref, commit, options.indexTrusted === true);
    const path = join(this.worktreeRoot, name);
    await this.lockedBoth(async () => {
      if (await exists(path)) throw new InternalError(`worktree ${path} already exists (reconcile the run first)`, { path });
      await this.refuseCheckedOut(ref);
      await this.addAndPoint(path, ref, commit, name);
    });
    await this.checkOut(path);
    return { path, ref };
  }

  /** A pooled worktree moved to `commit` (or, when none is idle or the idle one is unfit, a new one). */
  private async fromPool(pool: WorktreePool, ref: string, commit: string, indexTrusted: boolean): Promise<Worktree> {
    let moved: Promise<boolean> | undefined;
    const reused = await this.refsLocked(async () => {
      await this.refuseCheckedOut(ref);
      const idle = pool.take(commit);
      // The move writes the worktree alone and the ref the repository alone: side by side.
      if (idle !== undefined) moved = this.moveTaken(idle, commit, indexTrusted);
      try {
        await this.pointRef(ref, commit, idle === undefined ? 'pool' : basename(idle.path));
      } catch (error) {
        if (idle !== undefined) {
          await moved;
          pool.adopt(idle.path);
        }
        throw error;
      }
      return idle?.path;
    });
    if (reused !== undefined) {
      if (await moved) {
        this.leaseFrom(pool, reused, commit, indexTrusted);
        return { path: reused, ref };
      }
      // Broken or dirty beyond repair: a new worktree in its place.
      await this.removeWorktree(reused).catch(() => undefined);
    }
    const path = await this.newPooled(pool, commit);
    this.leaseFrom(pool, path, commit, indexTrusted);
    return { path, ref };
  }

  private async newPooled(pool: WorktreePool, commit: string): Promise<string> {
    const path = await this.locked(async () => {
      const fresh = await pool.freshPath(exists);
      await git(['worktree', 'add', '--quiet', '--no-checkout', '--detach', fresh, commit], { cwd: this.repo });
      return fresh;
    });
    await this.checkOut(path);
    return path;
  }

  /** A taken worktree at `commit`: moved there ahead of time, or now (once a move ahead to another commit has ended). */
  private async moveTaken(idle: { path: string; ahead: Ahead | undefined }, commit: string, indexTrusted: boolean): Promise<boolean> {
    const there = await idle.ahead?.done;
    if (there === true && idle.ahead?.commit === commit && indexTrusted) return true;
    return this.movePooled(idle.path, commit, indexTrusted);
  }

  /**
   * Leases a worktree to an experiment. For a confined agent (a trusted index: every command in
   * the agent's worktrees runs in the sandbox), the next experiment's worktree is made ready now,
   * while this one's proposal and evaluation run: an idle worktree (a new one when none is idle)
   * is moved ahead to the commit asked for, which the next experiment most often asks for again
   * (the best does not move without a keep). Its move then leaves the experiment's critical path.
   */
  private leaseFrom(pool: WorktreePool, path: string, commit: string, indexTrusted: boolean): void {
    pool.lease(path);
    if (!indexTrusted) {
      this.aheadTo = undefined;
      return;
    }
    this.trustedLeases.add(path);
    this.aheadTo = commit;
    if (!this.movesAhead || pool.hasAhead(commit)) return;
    const idle = pool.lastIdle();
    if (idle !== undefined) {
      this.moveAhead(pool, idle.path, idle.ahead);
      return;
    }
    if (this.making !== undefined) return;
    // No idle worktree: one more, made aside. It joins the pool already at the commit.
    this.making = this.newPooled(pool, commit)
      .then((fresh) => {
        if (!pool.adopt(fresh)) return this.deleteWorktree(fresh);
        pool.movingAhead(fresh, aheadMove(commit, Promise.resolve(true)));
        return undefined;
      })
      .catch(() => undefined)
      .finally(() => (this.making = undefined));
  }

  /** Moves the idle worktree `path` to the commit the last confined experiment asked for, in the background. */
  private moveAhead(pool: WorktreePool, path: string, before: Ahead | undefined): void {
    const commit = this.aheadTo;
    if (commit === undefined) return;
    const done = (before?.done ?? Promise.resolve(true)).then(() => this.movePooled(path, commit, true));
    pool.movingAhead(path, aheadMove(commit, done));
  }

  /** Whether an idle pooled worktree is fit and now at `commit` (false: it must be replaced). */
  private async movePooled(idle: string, commit: string, indexTrusted: boolean): Promise<boolean> {
    const started = performance.now();
    if (!(await poolable(idle, this.gitDir).catch(() => false))) return false;
    const moved = await resetPooled(idle, commit, { indexTrusted }).then(() => true, () => false);
    if (moved) this.moveMs = this.moveMs === undefined ? performance.now() - started : 0.7 * this.moveMs + 0.3 * (performance.now() - started);
    return moved;
  }

  /**
   * Whether moves are worth making ahead of time: only where one costs enough. A move ahead runs
   * beside the next experiment's own git processes; measured on two cores, where a move takes
   * about 10 ms (40 files) that cost more than the move it saved (overhead 93 -> 101 ms), where
   * it takes about 60 ms (20,000 files) it saved most of it (401 -> 234 ms).
   */
  private get movesAhead(): boolean {
    const from = this.moveAheadFromMs;
    return this.moveMs === undefined ? from === 0 : this.moveMs >= from;
  }

  /** Adds the worktree (no files yet) and points its ref at the commit. Under the lock. */
  private async addAndPoint(path: string, ref: string, commit: string, name: string): Promise<void> {
    // Detached, so the experiment's branch is never "checked out" anywhere: the user may check
    // it out, and the ref can move while the worktree exists.
    await git(['worktree', 'add', '--quiet', '--no-checkout', '--detach', path, commit], { cwd: this.repo });
    try {
      await this.pointRef(ref, commit, name);
    } catch (error) {
      await git(['worktree', 'remove', '--force', '--force', path], { cwd: this.repo, allowFailure: true });
      throw error;
    }
  }

  private async pointRef(ref: string, commit: string, name: string): Promise<void> {
    const moved = await git(['update-ref', '-m', `ratchet: worktree ${name}`, ref, commit], { cwd: this.repo, allowFailure: true });
    if (moved.exitCode !== 0) throw new InternalError(`could not point ${ref} at ${commit}: ${moved.stderr.trim()}`, { ref, commit });
    this.pointed.set(ref, commit);
  }

  /** The slow part, outside the lock: fill the index and the files. */
  private async checkOut(path: string): Promise<void> {
    try {
      await git(['reset', '--quiet', '--hard', 'HEAD'], { cwd: path });
    } catch (error) {
      await this.removeWorktree(path).catch(() => undefined);
      throw error;
    }
  }

  changedPaths(worktree: string, options: { exclude?: ReadonlySet<string> } = {}): Promise<string[]> {
    return listChangedPaths(worktree, options.exclude);
  }

  /**
   * The parent is the commit the worktree's ref points at. HEAD is put back there first (without
   * touching files), so commits an agent made by itself become part of the candidate instead of
   * hiding from the diff.
   */
  async commitAll(worktree: Worktree, message: string, options: CommitOptions = {}): Promise<CandidateCommit | undefined> {
    const cwd = worktree.path;
    const known = this.pointed.get(worktree.ref);
    const parent = known ?? (await this.readRef(worktree.ref));
    if (parent === undefined) throw new InternalError(`${worktree.ref} does not exist`, { ref: worktree.ref, worktree: cwd });
    const detached = await headDetached(cwd);
    // A trusted index of a worktree this workspace pointed at the parent is still the parent's
    // (reset there, and only ratchet wrote it): there is nothing to put back.
    if (options.indexTrusted !== true || known === undefined || !detached) {
      // The index back at the parent, so only the worktree's changes (not an agent's staging)
      // get committed; what follows looks at the files, so no refresh of them all here. A
      // detached HEAD the reset moves itself; one on a branch (an agent's checkout) is detached
      // first, so that the reset cannot move the branch.
      if (detached) {
        await git(['reset', '--quiet', '--no-refresh', parent, '--'], { cwd });
      } else {
        await pointHead(cwd, parent);
        await git(['reset', '--quiet', '--no-refresh'], { cwd });
      }
    }
    const tree = await this.stage(cwd, options.exclude);
    if (tree === undefined || tree === (await this.treeOf(parent))) {
      // Nothing against the guessed parent is only an answer if the guess is right.
      if (known === undefined || (await this.readRef(worktree.ref)) === known) return undefined;
      this.pointed.delete(worktree.ref);
      return this.commitAll(worktree, message, options);
    }
    // commit-tree runs no hooks and takes the message verbatim (a leading `#` stays).
    const commit = (
      await git(['commit-tree', '--no-gpg-sign', '-p', parent, '-F', '-', tree], {
        cwd,
        input: message.endsWith('\n') ? message : `${message}\n`,
        env: RATCHET_IDENTITY,
      })
    ).stdout;
    // The diff reads objects alone: it runs beside the ref update, and is dropped if that fails.
    const described = describeCommit(cwd, parent, commit, options.maxPatchBytes === undefined ? {} : { maxPatchBytes: options.maxPatchBytes });
    described.catch(() => undefined);
    const moved = await this.refsLocked(() =>
      git(['update-ref', '--stdin', '-m', 'ratchet: commit'], {
        cwd,
        input: `option no-deref\nupdate HEAD ${commit} ${parent}\nupdate ${worktree.ref} ${commit} ${parent}\n`,
        allowFailure: known !== undefined,
      }),
    ).catch(async (error: unknown) => {
      await described.catch(() => undefined);
      throw error;
    });
    if (moved.exitCode !== 0) {
      await described.catch(() => undefined);
      // The ref is not where this workspace left it: once more, from where git says it is.
      this.pointed.delete(worktree.ref);
      return this.commitAll(worktree, message, options);
    }
    this.pointed.set(worktree.ref, commit);
    this.commits.add(commit);
    this.trees.set(commit, tree);
    return described;
  }

  /**
   * Stages the worktree's changes against the index and returns the tree they make; undefined
   * when `exclude` leaves nothing. Without `exclude`, one `git add --all`: what a status would
   * list (changed, deleted and untracked files, ignored ones left out) is what it stages.
   */
  private async stage(cwd: string, exclude: ReadonlySet<string> | undefined): Promise<string | undefined> {
    if (exclude === undefined || exclude.size === 0) {
      await git(['add', '--all'], { cwd });
    } else {
      const files = await listChangedPaths(cwd, exclude);
      if (files.length === 0) return undefined;
      await git(['add', '--all', '--pathspec-from-file=-', '--pathspec-file-nul'], { cwd, input: files.join('\0'), env: LITERAL_PATHSPECS });
    }
    return (await git(['write-tree'], { cwd })).stdout;
  }

  /** The tree of `commit`: known for the commits this workspace made, read once for the others. */
  private async treeOf(commit: string): Promise<string> {
    const known = this.trees.get(commit);
    if (known !== undefined) return known;
    const tree = (await git(['rev-parse', '--verify', `${commit}^{tree}`], { cwd: this.repo })).stdout;
    this.trees.set(commit, tree);
    return tree;
  }

  reapply(worktree: Worktree, commit: string, onto: string, options: { maxPatchBytes?: number } = {}): Promise<Reapplied> {
    // The re-apply moves the ref itself.
    this.pointed.delete(worktree.ref);
    return reapplyCommit(worktree, commit, onto, (fn) => this.refsLocked(fn), options);
  }

  async updateRef(ref: string, commit: string, expected?: string): Promise<void> {
    checkRefName(ref);
    await this.refsLocked(async () => {
      await this.refuseCheckedOut(ref);
      const args = ['update-ref', '-m', 'ratchet: update', ref, commit, ...(expected === undefined ? [] : [expected])];
      const result = await git(args, { cwd: this.repo, allowFailure: true });
      this.pointed.delete(ref);
      if (result.exitCode === 0) return;
      const actual = await this.readRef(ref);
      const why = expected !== undefined && actual !== expected ? `it is at ${actual ?? 'nothing'}, not ${expected}` : result.stderr.trim();
      throw new InternalError(`could not move ${ref} to ${commit}: ${why}`, { ref, commit, expected, actual });
    });
  }

  async readRef(ref: string): Promise<string | undefined> {
    const result = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', ref], { cwd: this.repo, allowFailure: true });
    return result.exitCode === 0 ? result.stdout : undefined;
  }

  async listRefs(prefix: string): Promise<Map<string, string>> {
    const { stdout } = await git(['for-each-ref', '--format=%(objectname) %(refname)', prefix], { cwd: this.repo });
    const refs = new Map<string, string>();
    for (const line of stdout.split('\n')) {
      const space = line.indexOf(' ');
      if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
    }
    return refs;
  }

  /**
   * With the pool, a worktree it handed out goes back to it (it is reset when handed out again);
   * one a confined experiment had is moved ahead to the commit the next one will likely ask for.
   */
  async removeWorktree(path: string): Promise<void> {
    const trusted = this.trustedLeases.delete(path);
    if (this.pool?.release(path) === true) {
      if (trusted && this.movesAhead) this.moveAhead(this.pool, path, undefined);
      return;
    }
    await this.deleteWorktree(path);
  }

  /** Once the worktrees being made or moved ahead in the background are ready (or failed). */
  async settled(): Promise<void> {
    await this.making;
    await Promise.allSettled(this.pool?.aheadMoves() ?? []);
  }

  /** Removes every idle pooled worktree: the end of a session. */
  async drainPool(): Promise<void> {
    await this.making;
    const { paths, moving } = this.pool?.drain() ?? { paths: [], moving: [] };
    await Promise.allSettled(moving);
    for (const path of paths) await this.deleteWorktree(path).catch(() => undefined);
  }

  private async deleteWorktree(path: string): Promise<void> {
    const target = await canonical(path);
    let trash: string | undefined;
    await this.locked(async () => {
      const listed = await listWorktrees(this.repo);
      const entry = await findListed(listed, target);
      if (entry?.main === true || isInside(this.repo, target)) throw new InternalError(`refusing to remove the repository's own checkout ${target}`);
      // Only what git knows as a worktree, or what lies in ratchet's own folder, may go.
      if (entry === undefined && !isInside(target, this.worktreeRoot)) {
        throw new InternalError(`${target} is not a worktree of ${this.repo}`, { path: target });
      }
      if (await exists(target)) trash = await moveAside(target);
      if (entry !== undefined) await git(['worktree', 'prune'], { cwd: this.repo });
    });
    if (trash !== undefined) await rm(trash, { recursive: true, force: true });
  }

  async reconcile(root: string): Promise<string[]> {
    const base = await canonical(root);
    if (isInside(this.repo, base) || isInside(this.gitDir, base)) {
      throw new InternalError(`refusing to reconcile ${base}: it contains the repository`, { root: base });
    }
    const removed = new Set<string>();
    const trash: string[] = [];
    await this.locked(async () => {
      const listed = await listWorktrees(this.repo);
      const listedPaths = new Set<string>();
      for (const entry of listed) {
        const path = await canonical(entry.path);
        listedPaths.add(path);
        if (!entry.main && isInside(path, base)) removed.add(path);
      }
      const scanned = await scanRoot(base);
      for (const path of scanned.worktrees) removed.add(path);
      trash.push(...scanned.trash);
      for (const path of [...removed]) {
        // A pooled worktree git still knows is kept for reuse: it is checked and reset when handed out.
        if (listedPaths.has(path) && (await this.adoptable(base, path))) removed.delete(path);
      }
      for (const path of removed) {
        if (await exists(path)) trash.push(await moveAside(path));
      }
      await git(['worktree', 'prune'], { cwd: this.repo });
    });
    await Promise.all(trash.map((path) => rm(path, { recursive: true, force: true })));
    return [...removed].sort();
  }

  private async adoptable(root: string, path: string): Promise<boolean> {
    if (this.pool === undefined || root !== this.worktreeRoot || dirname(path) !== root || !POOL_NAME.test(basename(path))) return false;
    return (await poolable(path, this.gitDir).catch(() => false)) && this.pool.adopt(path);
  }

  worktreeLinkOk(path: string): Promise<boolean> {
    return worktreeLinkOk(path, this.gitDir);
  }

  snapshotRepo(options: { checkout?: boolean } = {}): Promise<RepoSnapshot> {
    return snapshotRepo(this.gitDir, options);
  }

  async undoRepoChanges(before: RepoSnapshot, options: { aside?: string } = {}): Promise<string[]> {
    const undone = await undoRepoChanges(this.gitDir, before);
    if (before.checkout === undefined || options.aside === undefined) return undone;
    const files = await undoCheckoutChanges(this.gitDir, before.checkout, options.aside);
    return [...undone, ...files.map((file) => `wrote ${file} in your checkout`)];
  }

  /** Worktrees made, removed or pruned (lock.ts). */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withRepoLock(this.gitDir, fn, this.lockOptions);
  }

  /** Refs moved, and what they are checked against first (a branch checked out somewhere). */
  private refsLocked<T>(fn: () => Promise<T>): Promise<T> {
    return withRefLock(this.gitDir, fn, this.lockOptions);
  }

  /** A worktree made and its ref pointed as one step: the worktrees lock, then the refs lock (always in that order). */
  private lockedBoth<T>(fn: () => Promise<T>): Promise<T> {
    return this.locked(() => this.refsLocked(fn));
  }

  private async commitOf(rev: string): Promise<string> {
    if (this.commits.has(rev)) return rev;
    const result = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd: this.repo, allowFailure: true });
    if (result.exitCode !== 0) throw new InternalError(`${rev} is not a commit of ${this.repo}`, { rev });
    this.commits.add(result.stdout);
    return result.stdout;
  }

  /** Moving a branch that a checkout has open would change that checkout under its owner. Call under the lock. */
  private async refuseCheckedOut(ref: string): Promise<void> {
    // The HEAD files answer without a spawn of git; git is asked when they cannot, or to name the holder.
    const branches = await checkedOutBranches(this.gitDir);
    if (branches !== undefined && !branches.has(ref)) return;
    const holder = (await listWorktrees(this.repo)).find((w) => w.branch === ref);
    if (holder !== undefined) {
      throw new UserError(`${ref} is checked out at ${holder.path}; ratchet will not move it`, {
        hint: 'check out another branch there',
        fields: { ref, path: holder.path },
      });
    }
  }
}

/** A full ref name: anything else would land as a loose file in the git dir. */
function checkRefName(ref: string): void {
  if (!ref.startsWith('refs/')) throw new InternalError(`${ref} is not a full ref name (refs/…)`, { ref });
}

async function findListed<T extends { path: string }>(listed: readonly T[], target: string): Promise<T | undefined> {
  for (const entry of listed) {
    if ((await canonical(entry.path)) === target) return entry;
  }
  return undefined;
}
