/**
 * The worker's own worktrees: for each request, a worktree of the candidate (and of the parent
 * for A/B benches) in a repository this worker can use, made by the worker and never by the
 * orchestrator. For a `local` request that is the orchestrator's repository, when this machine
 * sees it; the worktrees go under its git dir's ratchet folder, beside the orchestrator's.
 *
 * Worktrees are kept for the stages that follow (setup, checks and bench are separate jobs), and
 * pooled: a new experiment takes the least recently used idle worktree and moves it to its
 * commit, which rewrites only the files that differ, instead of making one (every file written)
 * and later removing it (every file deleted). Creating worktrees was most of a worker's cost per
 * experiment on a repository of 20,000 files. A worktree goes back to the pool only when every
 * command run in it ran in the sandbox, where the repository's git data, and so the worktree's
 * index, is read-only: a command outside it could forge the index so that the move leaves its
 * files behind. Such a worktree serves its own experiment's later stages and is then removed.
 */
import { hostname } from 'node:os';
import { type FileHandle, mkdir, open, readdir, rm } from 'node:fs/promises';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { join } from 'node:path';
import type { EvalCheckouts, OpenedPlace, PlaceUse } from '../domain/checkout-guard.js';
import type { CommitSource, EvaluationRequest } from '../domain/evaluation.js';
import { throwIfAborted } from '../domain/errors.js';
import { FULL_COMMIT_ID } from '../domain/refs.js';
import { git } from './exec.js';
import { withRepoLock } from './lock.js';
import { poolable, relinkPooled, resetPooled } from './pool.js';
import { setupInputs } from '../domain/spec.js';
import { canonical, exists } from './worktrees.js';
import { isAlive } from '../util/process.js';

/** A repository this worker can use for a request's commits, or why it has none. */
export type LocatedRepository = { ok: true; gitDir: string } | { ok: false; reason: string };

/** Finds (and fetches into, for a remote) the repository that holds a request's commits. */
export type RepositoryLocator = (source: CommitSource, commits: readonly string[], runId: string, signal: AbortSignal) => Promise<LocatedRepository>;

export interface WorkerCheckoutsOptions {
  /** Where remote requests are served from; without it, only local ones are. */
  remotes?: RepositoryLocator;
  /** Names this process's folder of worktrees; default `<host>-<pid>`. */
  owner?: string;
  /** Idle worktrees kept, per repository, for later stages and for the next experiments (default 6). */
  keep?: number;
  /** Idle worktrees never moved to another experiment, the most recently used (default 2). */
  spare?: number;
}

interface Entry {
  gitDir: string;
  path: string;
  /** Its key in the map: the experiment side it serves now, `<gitDir>\0<run>\0<name>`. */
  key: string;
  users: number;
  /** Set while the worktree is being made or moved; awaited by a second user of it. */
  ready: Promise<void>;
  /** A command ran outside the sandbox in it: never handed to another experiment. */
  tainted: boolean;
  /** Moved to its commit and found clean; no stage has had it since. */
  fresh: boolean;
  /** Handed over with its files as its last experiment left them (setup.inputs): setup cleans them or keeps its outputs. */
  carried: boolean;
}

const OWNER = /^(.+)-(\d+)$/;

export class WorkerCheckouts implements EvalCheckouts {
  private readonly owner: string;
  /** By `<gitDir>\0<run>\0<name>`, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly swept = new Set<string>();
  /** Commits found in a repository (by source): found once, there for good, asked no more. */
  private readonly found = new Map<string, { gitDir: string; commits: Set<string> }>();
  private next = 1;
  /** Removals under way (an eviction, a replaced worktree): `close` waits for them. */
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly options: WorkerCheckoutsOptions = {}) {
    this.owner = options.owner ?? `${hostname()}-${process.pid}`;
  }

  async open(request: EvaluationRequest, signal: AbortSignal): Promise<OpenedPlace> {
    throwIfAborted(signal);
    const commits = [request.commit, request.baseCommit, ...(request.parentCommit === undefined ? [] : [request.parentCommit])];
    const repo = await this.locate(request, commits, signal);
    if (!repo.ok) return repo;
    const held: Entry[] = [];
    const release = (use: PlaceUse = { unsandboxed: true }): void => {
      for (const entry of held.splice(0)) {
        entry.users--;
        if (use.unsandboxed || use.unfit === true) entry.tainted = true;
      }
      void this.evict().catch(() => undefined);
    };
    try {
      // With setup.inputs, a moved worktree keeps its files for setup to reuse or clean.
      const keepFiles = setupInputs(request.spec).length > 0;
      const candidate = await this.acquire(repo.gitDir, request.runId, request.experiment, request.commit, keepFiles);
      held.push(candidate);
      const parent = request.parentCommit === undefined ? undefined : await this.acquire(repo.gitDir, request.runId, `parent-${request.parentCommit.slice(0, 12)}`, request.parentCommit, keepFiles);
      if (parent !== undefined) held.push(parent);
      // Fresh (or carried) for the first stage that gets it only.
      const fresh = new Set(held.filter((e) => e.fresh).map((e) => e.path));
      const carried = new Set(held.filter((e) => e.carried).map((e) => e.path));
      // Untainted so far: every command in them ran sandboxed, so their HEAD and index are ratchet's.
      const trusted = new Set(held.filter((e) => !e.tainted).map((e) => e.path));
      for (const entry of held) {
        entry.fresh = false;
        entry.carried = false;
      }
      return { ok: true, place: { gitDir: repo.gitDir, candidate: candidate.path, parent: parent?.path, fresh, carried, trusted, release } };
    } catch (error) {
      release({ unsandboxed: false }); // nothing ran in them
      throw error;
    }
  }

  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) await this.remove(entry).catch(() => undefined);
    await Promise.allSettled([...this.removals]);
  }

  private async locate(request: EvaluationRequest, commits: readonly string[], signal: AbortSignal): Promise<LocatedRepository> {
    const { source } = request;
    const sourceKey = source.kind === 'remote' ? `remote\0${source.url}` : `local\0${source.gitDir}`;
    const known = this.found.get(sourceKey);
    // Only the commits not found before are looked for (the base, the same for a whole run, was).
    const unknown = known === undefined ? commits : commits.filter((c) => !known.commits.has(c));
    if (known !== undefined && unknown.length === 0) return { ok: true, gitDir: known.gitDir };
    let located = await this.locateAnew(request, unknown, signal);
    // Found in another repository than before: what was found there says nothing of this one.
    if (located.ok && known !== undefined && located.gitDir !== known.gitDir && unknown.length < commits.length) located = await this.locateAnew(request, commits, signal);
    if (located.ok) {
      const entry = known?.gitDir === located.gitDir ? known : { gitDir: located.gitDir, commits: new Set<string>() };
      for (const commit of commits) entry.commits.add(commit);
      this.found.set(sourceKey, entry);
    }
    return located;
  }

  private async locateAnew(request: EvaluationRequest, commits: readonly string[], signal: AbortSignal): Promise<LocatedRepository> {
    const { source } = request;
    if (source.kind === 'remote') {
      if (this.options.remotes === undefined) return { ok: false, reason: `this worker cannot serve the job: its commits are on the remote ${source.url}, and this worker fetches from no remote` };
      return this.options.remotes(source, commits, request.runId, signal);
    }
    return locateLocal(source.gitDir, commits);
  }

  /** The worktree of `name` in a run, taken from the pool or made when there is none to take. */
  private async acquire(gitDir: string, runId: string, name: string, commit: string, keepFiles: boolean): Promise<Entry> {
    const key = `${gitDir}\0${runId}\0${name}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const reusable = this.reusable(gitDir);
      const created: Entry = reusable ?? { gitDir, path: this.newPath(gitDir), key, users: 0, ready: Promise.resolve(), tainted: false, fresh: false, carried: false };
      if (reusable !== undefined) this.entries.delete(reusable.key);
      created.key = key;
      created.fresh = false;
      created.carried = false;
      created.ready = reusable === undefined ? this.create(created, commit) : this.move(created, commit, keepFiles);
      entry = created;
      this.entries.set(key, created);
      created.ready.catch(() => this.entries.get(key) === created && this.entries.delete(key));
    } else {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    entry.users++;
    try {
      await entry.ready;
    } catch (error) {
      entry.users--;
      throw error;
    }
    return entry;
  }

  /** A path no worktree of this process has had: pooled worktrees are named by their place, not an experiment. */
  private newPath(gitDir: string): string {
    return join(gitDir, 'ratchet', 'eval', this.owner, `pool-${this.next++}`);
  }

  /**
   * The least recently used idle worktree of the repository that may serve another experiment,
   * beyond the `spare` most recently used: those are left to the experiments whose next stage
   * (or next candidate on the same parent) is likely to come here soon, and a new one is made
   * while there are no more than that. With a larger reserve, most experiments made a worktree.
   */
  private reusable(gitDir: string): Entry | undefined {
    const idle = [...this.entries.values()].filter((e) => e.gitDir === gitDir && e.users === 0);
    return idle.slice(0, Math.max(0, idle.length - (this.options.spare ?? 2))).find((e) => !e.tainted);
  }

  private async create(entry: Entry, commit: string): Promise<void> {
    const { gitDir, path } = entry;
    await this.sweep(gitDir);
    await mkdir(join(path, '..'), { recursive: true });
    await withRepoLock(gitDir, async () => {
      if (await exists(path)) await removeWorktree(gitDir, path);
      // Without a checkout: setup's clean checks the commit out (and protected paths from the base).
      await git(['--git-dir', gitDir, 'worktree', 'add', '--quiet', '--no-checkout', '--detach', path, commit], { cwd: gitDir });
    });
  }

  /**
   * A pooled worktree at `commit`, as clean as a new one (git/pool.ts checks it), with a new
   * `.git` link so that no record of its earlier experiment is taken for this one
   * (eval/isolation.ts). One that cannot be made clean is replaced by a new one at a new path.
   * With `keepFiles` (setup.inputs) only the link is new: setup, which knows what its last run
   * left, keeps its outputs or cleans the worktree (and has it replaced when it cannot).
   */
  private async move(entry: Entry, commit: string, keepFiles: boolean): Promise<void> {
    try {
      if (await poolable(entry.path, entry.gitDir)) {
        if (keepFiles) {
          await relinkPooled(entry.path);
          entry.carried = true;
          return;
        }
        // Only an untainted worktree is moved: every command in it ran sandboxed, its index is ratchet's.
        await resetPooled(entry.path, commit, { indexTrusted: true });
        entry.fresh = true;
        return;
      }
    } catch {
      // Not clean after the reset (a file it cannot remove): replaced below.
    }
    const old = entry.path;
    entry.path = this.newPath(entry.gitDir);
    await this.removing(withRepoLock(entry.gitDir, () => removeWorktree(entry.gitDir, old))).catch(() => undefined);
    await this.create(entry, commit);
  }

  private remove(entry: Entry): Promise<void> {
    return this.removing(entry.ready.catch(() => undefined).then(() => withRepoLock(entry.gitDir, () => removeWorktree(entry.gitDir, entry.path))));
  }

  private removing(removal: Promise<void>): Promise<void> {
    this.removals.add(removal);
    return removal.finally(() => this.removals.delete(removal));
  }

  /** Beyond `keep` idle worktrees of a repository, the least recently used go (tainted ones first). */
  private async evict(): Promise<void> {
    const keep = this.options.keep ?? 6;
    const byRepo = new Map<string, Entry[]>();
    for (const entry of this.entries.values()) {
      if (entry.users !== 0) continue;
      byRepo.set(entry.gitDir, [...(byRepo.get(entry.gitDir) ?? []), entry]);
    }
    for (const idle of byRepo.values()) {
      const order = [...idle.filter((e) => e.tainted), ...idle.filter((e) => !e.tainted)];
      for (const entry of order.slice(0, Math.max(0, idle.length - keep))) {
        // Taken again (by the same experiment, or moved to another) since the list was made.
        if (entry.users !== 0 || this.entries.get(entry.key) !== entry) continue;
        this.entries.delete(entry.key);
        await this.remove(entry);
      }
    }
  }

  /** Once per repository: the worktrees of this host's workers that are gone (a SIGKILLed one) go too. */
  private async sweep(gitDir: string): Promise<void> {
    if (this.swept.has(gitDir)) return;
    this.swept.add(gitDir);
    const root = join(gitDir, 'ratchet', 'eval');
    const host = OWNER.exec(this.owner)?.[1];
    let dead = false;
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const match = OWNER.exec(name);
      if (match === null || name === this.owner || match[1] !== host || isAlive(Number(match[2]))) continue;
      await rm(join(root, name), { recursive: true, force: true });
      dead = true;
    }
    if (dead) await withRepoLock(gitDir, () => git(['--git-dir', gitDir, 'worktree', 'prune'], { cwd: gitDir }));
  }
}

/** The orchestrator's repository, when this machine sees it and it holds the commits. */
export async function locateLocal(gitDir: string, commits: readonly string[]): Promise<LocatedRepository> {
  const seen = await exists(join(gitDir, 'HEAD'));
  if (!seen) {
    return {
      ok: false,
      reason: `this worker cannot serve the job: the run's repository ${gitDir} is not on this machine, and the run has no remote (set remote: in ratchet.yaml, or --remote URL on ratchet run)`,
    };
  }
  const real = await canonical(gitDir);
  const missing = await missingCommits(real, commits);
  if (missing.length > 0) return { ok: false, reason: `this worker cannot serve the job: the repository ${real} does not hold commit ${missing.join(', ')}` };
  return { ok: true, gitDir: real };
}

/**
 * The commits of `commits` that `gitDir` does not hold. A loose commit (what the orchestrator
 * has just made, the usual candidate) is found by reading its object file; the rest are asked
 * of git in one call for all of them. Each git process costs milliseconds of an experiment's
 * overhead, and one per commit was most of what locating a repository cost.
 */
export async function missingCommits(gitDir: string, commits: readonly string[]): Promise<string[]> {
  const unique = [...new Set(commits)];
  const loose = await Promise.all(unique.map((commit) => isLooseCommit(gitDir, commit)));
  const unsettled = unique.filter((_, at) => !loose[at]);
  if (unsettled.length === 0) return [];
  const missing = await notCommits(gitDir, unsettled);
  return unique.filter((commit) => missing.has(commit));
}

/** A commit object's header is short: this much of its compressed file holds it (else git is asked). */
const HEADER_BYTES = 1024;

/**
 * Whether `commit` is a loose commit object in `gitDir`: its file inflates to a `commit <size>`
 * header. False says nothing (packed, in an alternate, unreadable): git is asked then.
 */
async function isLooseCommit(gitDir: string, commit: string): Promise<boolean> {
  // A full id, the form git names its loose object file by.
  if (!FULL_COMMIT_ID.test(commit)) return false;
  let file: FileHandle | undefined;
  try {
    file = await open(join(gitDir, 'objects', commit.slice(0, 2), commit.slice(2)), 'r');
    const { buffer, bytesRead } = await file.read(Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0);
    // Only the start is read: a sync flush inflates what that much holds without asking for the end.
    const header = inflateSync(buffer.subarray(0, bytesRead), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const end = header.indexOf(0);
    return end > 0 && /^commit \d+$/.test(header.subarray(0, end).toString('latin1'));
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/** Which of `commits` git finds no commit for: one batch for all, each peeled as `cat-file -e <id>^{commit}` would. */
async function notCommits(gitDir: string, commits: readonly string[]): Promise<Set<string>> {
  // A line break would split one name into two lines of the batch; no object is named so.
  const missing = new Set(commits.filter((commit) => /[\r\n]/.test(commit)));
  const asked = commits.filter((commit) => !missing.has(commit));
  if (asked.length === 0) return missing;
  const input = asked.map((commit) => `${commit}^{commit}\n`).join('');
  const found = await git(['--git-dir', gitDir, 'cat-file', '--batch-check=%(objecttype)'], { cwd: gitDir, input, allowFailure: true });
  // One line per name, in order: `commit`, or `<name> missing`. A git that failed found none.
  const types = found.exitCode === 0 ? found.stdout.split('\n') : [];
  for (const [at, commit] of asked.entries()) if (types[at] !== 'commit') missing.add(commit);
  return missing;
}

async function removeWorktree(gitDir: string, path: string): Promise<void> {
  await git(['--git-dir', gitDir, 'worktree', 'remove', '--force', '--force', path], { cwd: gitDir, allowFailure: true });
  await rm(path, { recursive: true, force: true });
  await git(['--git-dir', gitDir, 'worktree', 'prune'], { cwd: gitDir, allowFailure: true });
}

