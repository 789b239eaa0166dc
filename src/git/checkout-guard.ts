/** The CheckoutGuard port over git and the file system, for the stage executor. */
import type { CheckoutGuard, CheckoutRecord } from '../domain/checkout-guard.js';
import type { RepoSnapshot } from '../domain/workspace.js';
import { carrySetupState, cleanCheckout, inputBlobs, leftovers, protectedChanged, recordCleanState, protectedTouched, recordSetupState, repairWorktreeLink, restoreSetupState, worktreeLinkOk } from './checkout.js';
import { restorePaths } from './protect.js';
import { snapshotRepo, undoRepoChanges } from './repo-guard.js';
import { globRoots } from '../plan/path-policy.js';
import { diffTreeStates, readTreeState, readTreeStateAt, treeStateAt } from './tree-state.js';
import { undoCheckoutChanges } from './user-checkout.js';

export class GitCheckoutGuard implements CheckoutGuard {
  async clean(worktree: string, commit: string, protectedFrom?: { commit: string; globs: readonly string[] }, options: { alreadyClean?: boolean } = {}): Promise<CheckoutRecord> {
    if (options.alreadyClean !== true) await cleanCheckout(worktree, commit);
    const restored = protectedFrom !== undefined && protectedFrom.commit !== commit ? await restorePaths(worktree, protectedFrom.commit, protectedFrom.globs) : [];
    return recordCleanState(worktree, commit, restored);
  }

  record(worktree: string, commit: string): Promise<CheckoutRecord> {
    return recordSetupState(worktree, commit);
  }

  async restore(worktree: string, record: CheckoutRecord): ReturnType<CheckoutGuard['restore']> {
    const outcome = await restoreSetupState(worktree, record);
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
