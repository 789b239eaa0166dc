/**
 * Checkouts that are folders given up front: the candidate's always, the parent's when the
 * request measures one. For tests of the stage commands in plain folders; the real ones are
 * the worker's own worktrees (git/eval-checkouts.ts), tested against real git.
 */
import type { EvalCheckouts } from '../domain/checkout-guard.js';

export function fixedCheckouts(folders: { gitDir: string; candidate: string; parent?: string }): EvalCheckouts {
  return {
    open: (request) =>
      Promise.resolve({
        ok: true,
        place: { gitDir: folders.gitDir, candidate: folders.candidate, parent: request.parentCommit === undefined ? undefined : folders.parent, fresh: new Set(), carried: new Set(), trusted: new Set(), release: () => undefined },
      }),
    close: () => Promise.resolve(),
  };
}
