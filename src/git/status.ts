/** What the user's checkout holds that is not committed: it is not part of a run. */
import { git, splitNul } from './exec.js';

export interface Uncommitted {
  /** Tracked files changed, staged or not (and files deleted). */
  changed: string[];
  /** New files git does not ignore (a new folder counts once). */
  untracked: string[];
}

/** Reads `git status` only; no optional locks, so the user's index is not rewritten. */
export async function uncommitted(repo: string): Promise<Uncommitted> {
  const result = await git(['status', '--porcelain=v1', '-z', '--untracked-files=normal', '--no-renames'], { cwd: repo, allowFailure: true });
  const changed: string[] = [];
  const untracked: string[] = [];
  if (result.exitCode !== 0) return { changed, untracked };
  for (const entry of splitNul(result.stdout)) (entry.startsWith('??') ? untracked : changed).push(entry.slice(3));
  return { changed, untracked };
}

/**
 * One line for the start of a run, or undefined for a clean checkout: the run starts from a
 * commit, and what is only in the working tree is easy to believe is being improved too.
 */
export function uncommittedNotice(state: Uncommitted, from: { ref: string; commit: string }): string | undefined {
  const parts = [
    state.changed.length > 0 ? `${state.changed.length} changed file${state.changed.length === 1 ? '' : 's'}` : '',
    state.untracked.length > 0 ? `${state.untracked.length} untracked` : '',
  ].filter((p) => p !== '');
  if (parts.length === 0) return undefined;
  const files = [...state.changed, ...state.untracked];
  const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? ', …' : '');
  return `uncommitted changes are not part of the run (${parts.join(', ')}: ${shown}); it starts from ${from.ref} (${from.commit.slice(0, 7)})`;
}
