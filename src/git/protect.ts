/**
 * Keeps the evaluator honest: which files matching the protected globs differ in a worktree
 * from a commit, and putting them back as they were there.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { git, LITERAL_PATHSPECS, splitNul } from './exec.js';
import { globRoots, matchesAny, underRoots } from '../plan/path-policy.js';

/**
 * Index entries flagged assume-unchanged (lowercase tag) or skip-worktree (`S`) hide their
 * changes from `git diff`; an agent could set them on purpose. Clearing them makes every
 * comparison below see the file as it is.
 */
export async function clearHidingFlags(worktree: string, globs: readonly string[]): Promise<void> {
  const listed = await git(['ls-files', '-z', '-v'], { cwd: worktree });
  const flagged = splitNul(listed.stdout)
    .filter((entry) => /^[a-zS] /.test(entry))
    .map((entry) => entry.slice(2))
    .filter((path) => matchesAny(path, globs));
  if (flagged.length === 0) return;
  // One flag per call: update-index applies only one of them when given both.
  for (const flag of ['--no-assume-unchanged', '--no-skip-worktree']) {
    await git(['update-index', '-z', flag, '--stdin'], { cwd: worktree, input: `${flagged.join('\0')}\0` });
  }
}

/**
 * Paths matching `globs` whose content in the worktree differs from `commit`: modified,
 * deleted, or added (tracked or untracked; ignored files are setup's and are left out). Sorted.
 */
export async function diffPaths(worktree: string, commit: string, globs: readonly string[]): Promise<string[]> {
  if (globs.length === 0) return [];
  await clearHidingFlags(worktree, globs);
  // Only where a protected path can be: on a large worktree, most of it is not (each look at
  // all of it is a walk of every file). Literal pathspecs, so a root named `a*` is that folder.
  const roots = globRoots(globs) ?? [];
  const options = { cwd: worktree, env: LITERAL_PATHSPECS };
  const [tracked, untracked] = await Promise.all([
    git(['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--ignore-submodules=all', commit, '--', ...roots], options),
    git(['ls-files', '-z', '--others', '--exclude-standard', '--', ...roots], options),
  ]);
  const paths = new Set([...splitNul(tracked.stdout), ...splitNul(untracked.stdout)]);
  return [...paths].filter((path) => matchesAny(path, globs)).sort();
}

/**
 * Makes the files matching `globs` in the worktree equal to `commit`'s: restores modified and
 * deleted ones, deletes added ones. The index is left alone. Returns the paths it changed.
 */
export async function restorePaths(worktree: string, commit: string, globs: readonly string[]): Promise<string[]> {
  const differing = await diffPaths(worktree, commit, globs);
  if (differing.length === 0) return [];
  const inCommit = new Set(
    splitNul(
      (
        await git(['ls-tree', '-r', '-z', '--name-only', '--full-tree', commit, '--', ...differing], {
          cwd: worktree,
          env: LITERAL_PATHSPECS,
        })
      ).stdout,
    ),
  );
  await putBack(worktree, commit, differing, inCommit);
  return differing;
}

/**
 * Makes `differing` (protected paths known to differ from `commit`) as they are there: those
 * `commit` has are restored, the others deleted. The index is left alone.
 */
export async function putBack(worktree: string, commit: string, differing: readonly string[], inCommit: { has(path: string): boolean }): Promise<void> {
  // Deletions first: an added file may sit where a restored folder has to go.
  for (const path of differing.filter((p) => !inCommit.has(p))) {
    await rm(join(worktree, path), { force: true, recursive: true });
  }
  const restore = differing.filter((p) => inCommit.has(p));
  if (restore.length > 0) {
    await git(['restore', `--source=${commit}`, '--worktree', '--pathspec-from-file=-', '--pathspec-file-nul'], {
      cwd: worktree,
      input: restore.join('\0'),
      env: LITERAL_PATHSPECS,
    });
  }
}

/** Path → `<mode> <type> <id>` of every entry of a commit's tree (files, links, submodules). */
export type TreeListing = ReadonlyMap<string, string>;

export async function listTree(worktree: string, commit: string): Promise<TreeListing> {
  const listed = await git(['ls-tree', '-r', '-z', '--full-tree', commit], { cwd: worktree });
  const entries = new Map<string, string>();
  for (const line of splitNul(listed.stdout)) {
    const tab = line.indexOf('\t');
    if (tab > 0) entries.set(line.slice(tab + 1), line.slice(0, tab));
  }
  return entries;
}

/** The entries of `listing` that `globs` match, looked for only under their roots (as `diffPaths` looks). Pure. */
export function protectedEntries(listing: TreeListing, globs: readonly string[]): Map<string, string> {
  const roots = globRoots(globs);
  const under = (path: string): boolean => roots === undefined || underRoots(path, roots);
  const entries = new Map<string, string>();
  if (globs.length === 0) return entries;
  for (const [path, entry] of listing) if (under(path) && matchesAny(path, globs)) entries.set(path, entry);
  return entries;
}

const GITLINK = '160000 ';

/**
 * The protected paths whose entry in a clean checkout of a commit (`checkedOut`, its protected
 * entries) differs from `base`'s: what `diffPaths` finds in such a worktree, from the two trees
 * alone. Submodules are left out as there (`--ignore-submodules=all`): a path that is a
 * submodule or nothing on both sides is no difference, one that is a file on either side is. Sorted. Pure.
 */
export function protectedDifferences(checkedOut: TreeListing, base: TreeListing): string[] {
  const differing: string[] = [];
  const counts = (entry: string | undefined): boolean => entry !== undefined && !entry.startsWith(GITLINK);
  for (const [path, entry] of checkedOut) {
    const was = base.get(path);
    if (entry !== was && (counts(entry) || counts(was))) differing.push(path);
  }
  for (const [path, was] of base) if (!checkedOut.has(path) && counts(was)) differing.push(path);
  return differing.sort();
}
