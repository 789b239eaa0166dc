/**
 * A CheckoutGuard that isolates nothing: every worktree is taken as clean, nothing is ever found
 * changed. For tests of the stage commands themselves in plain folders; the real one is
 * GitCheckoutGuard, and the isolation has tests of its own against real git.
 */
import type { CheckoutGuard, CheckoutRecord } from '../domain/checkout-guard.js';

export function inertGuard(): CheckoutGuard {
  const record = (commit: string): CheckoutRecord => ({ commit, tree: new Map(), tracked: new Set(), setupTouched: new Set() });
  return {
    clean: (_worktree, commit) => Promise.resolve(record(commit)),
    record: (_worktree, commit) => Promise.resolve(record(commit)),
    restore: (_worktree, known) => Promise.resolve({ ok: true, record: known, restored: [], removed: [] }),
    carry: (_worktree, _known, commit) => Promise.resolve({ ok: true, record: record(commit), removed: [] }),
    inputs: () => Promise.resolve(new Map()),
    leftovers: () => Promise.resolve([]),
    protectedTouched: () => Promise.resolve([]),
    protectedChanged: () => Promise.resolve(false),
    linkOk: () => Promise.resolve(true),
    repairLink: () => Promise.resolve(true),
    snapshotRepo: () => Promise.resolve({ refs: new Map(), files: new Map() }),
    undoRepoChanges: () => Promise.resolve([]),
    undoCheckoutChanges: () => Promise.resolve([]),
  };
}
