/**
 * The worker's own worktrees: for each request, a worktree of the candidate (and of the parent
 * for A/B benches) in a repository this worker can use, made by the worker and never by the
 * orchestrator. For a `local` request that is the orchestrator's repository, when this machine
 * sees it; the worktrees go under its git dir's ratchet folder, beside the orchestrator's.
 * Worktrees are kept for the stages that follow (setup, checks and bench are separate jobs) and
 * removed least recently used first beyond a few, and all of them when the worker stops.
 */
import { hostname } from 'node:os';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvalCheckouts, OpenedPlace } from '../domain/checkout-guard.js';
import type { CommitSource, EvaluationRequest } from '../domain/evaluation.js';
import { throwIfAborted } from '../domain/errors.js';
import { git } from './exec.js';
import { withRepoLock } from './lock.js';
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
  /** Worktrees kept between stages beyond those in use. */
  keep?: number;
}

interface Entry {
  gitDir: string;
  path: string;
  users: number;
  /** Set while the worktree is being made; awaited by a second user of it. */
  ready: Promise<void>;
}

const OWNER = /^(.+)-(\d+)$/;

export class WorkerCheckouts implements EvalCheckouts {
  private readonly owner: string;
  private readonly entries = new Map<string, Entry>();
  private readonly swept = new Set<string>();
  /** Worktrees being removed: one made again at the same path waits for its removal first. */
  private readonly removing = new Map<string, Promise<void>>();

  constructor(private readonly options: WorkerCheckoutsOptions = {}) {
    this.owner = options.owner ?? `${hostname()}-${process.pid}`;
  }

  async open(request: EvaluationRequest, signal: AbortSignal): Promise<OpenedPlace> {
    throwIfAborted(signal);
    const commits = [request.commit, request.baseCommit, ...(request.parentCommit === undefined ? [] : [request.parentCommit])];
    const repo = await this.locate(request, commits, signal);
    if (!repo.ok) return repo;
    const held: Entry[] = [];
    const release = (): void => {
      for (const entry of held.splice(0)) entry.users--;
      void this.evict().catch(() => undefined);
    };
    try {
      const candidate = await this.acquire(repo.gitDir, request.runId, request.experiment, request.commit);
      held.push(candidate);
      const parent = request.parentCommit === undefined ? undefined : await this.acquire(repo.gitDir, request.runId, `parent-${request.parentCommit.slice(0, 12)}`, request.parentCommit);
      if (parent !== undefined) held.push(parent);
      return { ok: true, place: { gitDir: repo.gitDir, candidate: candidate.path, parent: parent?.path, release } };
    } catch (error) {
      release();
      throw error;
    }
  }

  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) await this.remove(entry).catch(() => undefined);
  }

  private async locate(request: EvaluationRequest, commits: readonly string[], signal: AbortSignal): Promise<LocatedRepository> {
    const { source } = request;
    if (source.kind === 'remote') {
      if (this.options.remotes === undefined) return { ok: false, reason: `this worker cannot serve the job: its commits are on the remote ${source.url}, and this worker fetches from no remote` };
      return this.options.remotes(source, commits, request.runId, signal);
    }
    return locateLocal(source.gitDir, commits);
  }

  /** The worktree `name` of a run in `gitDir`, made when this worker has none yet. */
  private async acquire(gitDir: string, runId: string, name: string, commit: string): Promise<Entry> {
    const path = join(gitDir, 'ratchet', 'eval', this.owner, runId, name);
    const key = `${gitDir}\0${path}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const created: Entry = { gitDir, path, users: 0, ready: this.create(gitDir, path, commit) };
      entry = created;
      this.entries.set(key, created);
      created.ready.catch(() => this.entries.delete(key));
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

  private async create(gitDir: string, path: string, commit: string): Promise<void> {
    await this.removing.get(path);
    await this.sweep(gitDir);
    await mkdir(join(path, '..'), { recursive: true });
    await withRepoLock(gitDir, async () => {
      if (await exists(path)) await removeWorktree(gitDir, path);
      // Without a checkout: setup's clean checks the commit out (and protected paths from the base).
      await git(['--git-dir', gitDir, 'worktree', 'add', '--quiet', '--no-checkout', '--detach', path, commit], { cwd: gitDir });
    });
  }

  private async remove(entry: Entry): Promise<void> {
    await entry.ready.catch(() => undefined);
    await withRepoLock(entry.gitDir, () => removeWorktree(entry.gitDir, entry.path));
  }

  /** Beyond `keep` idle worktrees, the least recently used go. */
  private async evict(): Promise<void> {
    const keep = this.options.keep ?? 6;
    const idle = [...this.entries].filter(([, entry]) => entry.users === 0);
    for (const [key, entry] of idle.slice(0, Math.max(0, idle.length - keep))) {
      this.entries.delete(key);
      const removal = this.remove(entry).finally(() => this.removing.delete(entry.path));
      this.removing.set(entry.path, removal);
      await removal;
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

/** The commits of `commits` that `gitDir` does not hold. */
export async function missingCommits(gitDir: string, commits: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const commit of new Set(commits)) {
    const found = await git(['--git-dir', gitDir, 'cat-file', '-e', `${commit}^{commit}`], { cwd: gitDir, allowFailure: true });
    if (found.exitCode !== 0) missing.push(commit);
  }
  return missing;
}

async function removeWorktree(gitDir: string, path: string): Promise<void> {
  await git(['--git-dir', gitDir, 'worktree', 'remove', '--force', '--force', path], { cwd: gitDir, allowFailure: true });
  await rm(path, { recursive: true, force: true });
  await git(['--git-dir', gitDir, 'worktree', 'prune'], { cwd: gitDir, allowFailure: true });
}

