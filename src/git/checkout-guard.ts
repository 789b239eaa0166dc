/** The CheckoutGuard port over git and the file system, for the stage executor. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CheckoutGuard, CheckoutRecord } from '../domain/checkout-guard.js';
import type { RepoSnapshot } from '../domain/workspace.js';
import { carrySetupState, cleanCheckout, linkTarget, inputBlobs, leftovers, protectedChanged, recordCleanState, protectedTouched, recordSetupState, repairWorktreeLink, restoreSetupState, worktreeLinkOk } from './checkout.js';
import { listTree, protectedDifferences, protectedEntries, putBack, restorePaths, type TreeListing } from './protect.js';
import { snapshotRepo, undoRepoChanges } from './repo-guard.js';
import { globRoots } from '../plan/path-policy.js';
import { diffTreeStates, readTreeState, readTreeStateAt, treeStateAt } from './tree-state.js';
import { undoCheckoutChanges } from './user-checkout.js';

type ProtectedFrom = { commit: string; globs: readonly string[] };

/** Commits whose file lists are kept for the record after setup. */
const KEEP_TRACKED = 8;

export class GitCheckoutGuard implements CheckoutGuard {
  /**
   * The base's protected entries, by repository (common git dir), base and globs: the same for
   * a whole run, so listed once, not with every experiment.
   */
  private readonly bases = new Map<string, Promise<TreeListing>>();

  /**
   * The files of the commits cleaned last, by repository and commit: setup's record, which comes
   * next, needs them again, and a commit's files never change.
   */
  private readonly tracked = new Map<string, ReadonlySet<string>>();

  async clean(worktree: string, commit: string, protectedFrom?: ProtectedFrom, options: { alreadyClean?: boolean } = {}): Promise<CheckoutRecord> {
    const repo = await commonDir(worktree);
    const record = options.alreadyClean === true ? await this.cleanFresh(worktree, repo, commit, protectedFrom) : await this.cleanFully(worktree, commit, protectedFrom);
    this.remember(repo, commit, record.tracked);
    return record;
  }

  private async cleanFully(worktree: string, commit: string, protectedFrom: ProtectedFrom | undefined): Promise<CheckoutRecord> {
    await cleanCheckout(worktree, commit);
    const restored = protectedFrom !== undefined && protectedFrom.commit !== commit ? await restorePaths(worktree, protectedFrom.commit, protectedFrom.globs) : [];
    return recordCleanState(worktree, commit, restored, undefined, protectedFrom);
  }

  /**
   * `clean` of a worktree just moved to `commit` by a hard reset and a clean that left nothing
   * (the pool's reset), whose index only ratchet wrote: no flag hides a file, nothing is
   * untracked, and its files are the commit's. So the protected paths that differ from the base
   * are those whose entries differ between the two commits' trees, and one listing of the commit
   * (which the record needs anyway) finds them, where a look at the worktree took three git
   * processes more.
   */
  private async cleanFresh(worktree: string, repo: string, commit: string, protectedFrom: ProtectedFrom | undefined): Promise<CheckoutRecord> {
    const from = protectedFrom !== undefined && protectedFrom.commit !== commit && protectedFrom.globs.length > 0 ? protectedFrom : undefined;
    const [listing, base] = await Promise.all([listTree(worktree, commit), from === undefined ? undefined : this.baseEntries(worktree, repo, from)]);
    const restored = from === undefined || base === undefined ? [] : protectedDifferences(protectedEntries(listing, from.globs), base);
    if (from !== undefined && base !== undefined && restored.length > 0) await putBack(worktree, from.commit, restored, base);
    return recordCleanState(worktree, commit, restored, new Set(listing.keys()), protectedFrom);
  }

  private baseEntries(worktree: string, repo: string, from: ProtectedFrom): Promise<TreeListing> {
    const key = [repo, from.commit, ...from.globs].join('\0');
    let entries = this.bases.get(key);
    if (entries === undefined) {
      entries = listTree(worktree, from.commit).then((listing) => protectedEntries(listing, from.globs));
      this.bases.set(key, entries);
      // A listing that failed is listed again next time.
      entries.catch(() => this.bases.get(key) === entries && this.bases.delete(key));
    }
    return entries;
  }

  async record(worktree: string, commit: string): Promise<CheckoutRecord> {
    return recordSetupState(worktree, commit, this.tracked.get(commitKey(await commonDir(worktree), commit)));
  }

  private remember(repo: string, commit: string, tracked: ReadonlySet<string>): void {
    const key = commitKey(repo, commit);
    this.tracked.delete(key);
    this.tracked.set(key, tracked);
    // The candidate's and the parent's of the experiments under way; a large repository's file list is megabytes.
    for (const old of [...this.tracked.keys()].slice(0, Math.max(0, this.tracked.size - KEEP_TRACKED))) this.tracked.delete(old);
  }

  async restore(worktree: string, record: CheckoutRecord, options: { indexTrusted?: boolean } = {}): ReturnType<CheckoutGuard['restore']> {
    if (record.clean !== undefined) {
      // No setup output to keep: the worktree made clean again as for the stage before, where a
      // put-back from the record would need a walk of every file first. After the reset and the
      // clean, the worktree is exactly at the commit with an index only ratchet wrote.
      await cleanCheckout(worktree, record.commit, options);
      const again = await this.cleanFresh(worktree, await commonDir(worktree), record.commit, record.clean.protectedFrom);
      return { ok: true, record: again, restored: [], removed: [] };
    }
    const outcome = await restoreSetupState(worktree, record, options);
    return outcome.ok ? { ok: true, record: outcome.state, restored: outcome.restored, removed: outcome.removed } : outcome;
  }

  async carry(worktree: string, record: CheckoutRecord, commit: string, protectedFrom: { commit: string; globs: readonly string[] }): ReturnType<CheckoutGuard['carry']> {
    const outcome = await carrySetupState(worktree, record, commit, protectedFrom);
    return outcome.ok ? { ok: true, record: outcome.state, removed: outcome.removed } : outcome;
  }

  inputs(gitDir: string, commit: string, globs: readonly string[]): Promise<ReadonlyMap<string, string>> {
    return inputBlobs(gitDir, commit, globs);
  }

  leftovers(worktree: string): Promise<string[]> {
    return leftovers(worktree);
  }

  async protectedTouched(worktree: string, record: CheckoutRecord, globs: readonly string[]): Promise<string[]> {
    if (globs.length === 0) return [];
    // Only where a protected path can be: on a large worktree, most of it is not.
    const roots = globRoots(globs);
    const part = roots === undefined ? undefined : await readTreeStateAt(worktree, roots);
    const changes = part === undefined ? diffTreeStates(record.tree, await readTreeState(worktree)) : diffTreeStates(treeStateAt(record.tree, roots!), part);
    return protectedTouched(worktree, changes, globs);
  }

  protectedChanged(worktree: string, record: CheckoutRecord, globs: readonly string[]): Promise<boolean> {
    return protectedChanged(worktree, record, globs);
  }

  linkOk(worktree: string, gitDir: string): Promise<boolean> {
    return worktreeLinkOk(worktree, gitDir);
  }

  repairLink(worktree: string, gitDir: string): Promise<boolean> {
    return repairWorktreeLink(worktree, gitDir);
  }

  snapshotRepo = snapshotRepo;
  undoRepoChanges = undoRepoChanges;

  undoCheckoutChanges(gitDir: string, before: RepoSnapshot, aside: string): Promise<string[]> {
    return before.checkout === undefined ? Promise.resolve([]) : undoCheckoutChanges(gitDir, before.checkout, aside);
  }
}

/** A commit of a repository: what is known of its tree holds for every worktree of it. */
function commitKey(repo: string, commit: string): string {
  return `${repo}\0${commit}`;
}

/** The repository a linked worktree belongs to (its admin folder's `commondir`), read without git; the worktree itself when that cannot be read. */
async function commonDir(worktree: string): Promise<string> {
  const link = await linkTarget(worktree);
  if (link === undefined) return worktree;
  const admin = resolve(worktree, link);
  const common = await readFile(join(admin, 'commondir'), 'utf8').catch(() => undefined);
  return common === undefined ? worktree : resolve(admin, common.trim());
}
