/**
 * Every stage starts from the committed tree plus what setup produced, and nothing else: what a
 * candidate's checks wrote is gone before its bench runs. Setup itself starts from the committed
 * tree alone (whatever the agent left, ignored files included, is cleaned away).
 *
 * After setup the worktree's state is recorded (tree-state.ts). Before a later stage the
 * worktree is put back to it: files a stage added are deleted, tracked files it changed are
 * restored from the commit. When a stage changed something only setup can make again (its
 * `node_modules`, a tracked file setup itself rewrote), the caller runs setup again.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CheckoutRecord } from '../domain/checkout-guard.js';
import { clearHidingFlags, restorePaths } from './protect.js';
import { git, LITERAL_PATHSPECS, splitNul } from './exec.js';
import { globTops, matchesAny } from '../plan/path-policy.js';
import { diffTreeStates, readTreeState, readTreeStateAt, stampPath, topmost, type TreeChanges } from './tree-state.js';

/** The worktree as setup left it, for one commit (the port's CheckoutRecord). */
export type SetupState = CheckoutRecord;

export type RestoreOutcome =
  | { ok: true; state: SetupState; restored: string[]; removed: string[] }
  /** Something of setup's own changed: only running setup again makes it right. */
  | { ok: false; setupChanged: string[] };

async function trackedFiles(worktree: string, commit: string): Promise<Set<string>> {
  const listed = await git(['ls-tree', '-r', '-z', '--name-only', '--full-tree', commit], { cwd: worktree });
  return new Set(splitNul(listed.stdout));
}

/** Every folder that holds a tracked file: restoring the files brings them back. */
function trackedFolders(tracked: ReadonlySet<string>): Set<string> {
  const folders = new Set<string>();
  for (const path of tracked) {
    for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) folders.add(path.slice(0, at));
  }
  return folders;
}

/** HEAD detached at `commit`, files and index untouched (a branch checked out there stays where it is). */
export async function pointHead(worktree: string, commit: string): Promise<void> {
  await git(['update-ref', '--no-deref', 'HEAD', commit], { cwd: worktree });
}

/** HEAD at `commit`, no flag hiding a file in the index. */
async function resetHead(worktree: string, commit: string): Promise<void> {
  await pointHead(worktree, commit);
  await clearHidingFlags(worktree, ['**']);
}

/**
 * HEAD at `commit`, the index at HEAD with no flag hiding a file, nothing staged. Without a
 * refresh of every file's stat (what comes next looks at the files itself), which on a large
 * worktree is most of the time a reset takes.
 */
async function resetHeadAndIndex(worktree: string, commit: string): Promise<void> {
  await resetHead(worktree, commit);
  await git(['reset', '--quiet', '--no-refresh'], { cwd: worktree });
}

export interface CleanCheckoutOptions {
  /**
   * Only ratchet has written the worktree's index (every command in it ran in the sandbox,
   * where the git data is read-only): no flag can hide a file there, so none are looked for.
   */
  indexTrusted?: boolean;
}

/** The worktree exactly at `commit`: tracked files restored, every untracked and ignored file gone. */
export async function cleanCheckout(worktree: string, commit: string, options: CleanCheckoutOptions = {}): Promise<void> {
  // A detached HEAD (as ratchet leaves it) the hard reset moves itself, a spawn less; one on a
  // branch is detached first, or the reset would move the branch.
  if (!(await headDetached(worktree))) await pointHead(worktree, commit);
  if (options.indexTrusted !== true) await clearHidingFlags(worktree, ['**']);
  await git(['reset', '--quiet', '--hard', commit], { cwd: worktree });
  // -ff: nested repositories too; -x: ignored files (build output, an agent's node_modules).
  await git(['clean', '-ffdxq'], { cwd: worktree });
}

/** Record the worktree as setup left it. `known`: the commit's files, when the caller has listed them already. */
export async function recordSetupState(worktree: string, commit: string, known?: ReadonlySet<string>): Promise<SetupState> {
  const [tree, tracked, changed] = await Promise.all([
    readTreeState(worktree),
    known ?? trackedFiles(worktree, commit),
    git(['diff', '--name-only', '-z', '--no-renames', commit, '--'], { cwd: worktree }),
  ]);
  return { commit, tree, tracked, setupTouched: new Set(splitNul(changed.stdout)) };
}

/**
 * The record of a worktree just checked out clean at `commit` with `restored` (the protected
 * paths made as in the base) changed after: the tracked files that differ from the commit are
 * those of `restored` the commit has, so no diff of the whole worktree is needed. `known`: the
 * commit's files, when the caller has listed them already.
 */
export async function recordCleanState(
  worktree: string,
  commit: string,
  restored: readonly string[],
  known?: ReadonlySet<string>,
  /** The base's protected paths, made so: the record then holds the worktree under their top folders alone (CheckoutRecord.clean). */
  protectedFrom?: { commit: string; globs: readonly string[] },
): Promise<SetupState> {
  const scope = protectedFrom === undefined ? undefined : globTops(protectedFrom.globs);
  const [part, tracked] = await Promise.all([scope === undefined ? undefined : readTreeStateAt(worktree, scope), known ?? trackedFiles(worktree, commit)]);
  const setupTouched = new Set(restored.filter((path) => tracked.has(path)));
  // A glob that can match anywhere, or a link on the way to a top folder: the whole worktree.
  if (part === undefined || scope === undefined || protectedFrom === undefined) return { commit, tree: await readTreeState(worktree), tracked, setupTouched };
  return { commit, tree: part, tracked, setupTouched, clean: { scope, protectedFrom } };
}

/** Put the worktree back to `state`: what a stage added goes, what it changed of the commit comes back. */
export async function restoreSetupState(worktree: string, state: SetupState, options: { indexTrusted?: boolean } = {}): Promise<RestoreOutcome> {
  // The reset writes the index only (in the admin folder, out of the walk): side by side. A
  // trusted index and HEAD no command could have written: they are still at the record's commit.
  const [, now] = await Promise.all([options.indexTrusted === true ? undefined : resetHeadAndIndex(worktree, state.commit), readTreeState(worktree)]);
  const changes = diffTreeStates(state.tree, now);
  const folders = trackedFolders(state.tracked);
  const fromCommit = (path: string): boolean => (state.tracked.has(path) && !state.setupTouched.has(path)) || folders.has(path);
  const lost = [...changes.changed, ...changes.removed].filter((path) => !fromCommit(path));
  if (lost.length > 0) return { ok: false, setupChanged: lost };

  // A path whose kind changed (a folder replaced by a link) must go before git can restore it.
  const kindChanged = changes.changed.filter((path) => state.tree.get(path)?.[0] !== now.get(path)?.[0] || folders.has(path));
  // Removing such a folder would take setup's files in it along.
  const replaced = new Set(kindChanged.filter((path) => folders.has(path)));
  const inside = [...state.tree.keys()].filter((path) => isUnder(path, replaced) && !fromCommit(path));
  if (inside.length > 0) return { ok: false, setupChanged: inside };
  const remove = topmost([...changes.added, ...kindChanged]);
  await Promise.all(remove.map((path) => rm(join(worktree, path), { recursive: true, force: true })));
  const restore = [...changes.changed, ...changes.removed].filter((path) => state.tracked.has(path));
  const removedFolders = new Set(remove);
  const missing = [...state.tracked].filter((path) => !state.setupTouched.has(path) && isUnder(path, removedFolders));
  const all = [...new Set([...restore, ...missing])];
  if (all.length > 0) {
    await git(['restore', `--source=${state.commit}`, '--worktree', '--pathspec-from-file=-', '--pathspec-file-nul'], {
      cwd: worktree,
      input: all.join('\0'),
      env: LITERAL_PATHSPECS,
    });
  }
  // Restored files are new files: their stamps are what the next comparison starts from.
  const tree = all.length === 0 && remove.length === 0 ? state.tree : await readTreeState(worktree);
  return { ok: true, state: { ...state, tree }, restored: all.sort(), removed: remove };
}

export type CarryOutcome = { ok: true; state: SetupState; removed: string[] } | { ok: false; setupChanged: string[] };

/**
 * Moves a worktree set up at `state.commit` to `commit`, keeping setup's outputs: first back as
 * setup left it (what a stage added goes; when setup's own files changed, `ok: false` and
 * nothing is moved), then the tracked files to `commit` (a hard reset leaves what git does not
 * track), the protected paths from the base, and the new state recorded.
 */
export async function carrySetupState(worktree: string, state: SetupState, commit: string, protectedFrom: { commit: string; globs: readonly string[] }): Promise<CarryOutcome> {
  const back = await restoreSetupState(worktree, state);
  if (!back.ok) return back;
  await git(['reset', '--quiet', '--hard', commit], { cwd: worktree });
  if (protectedFrom.commit !== commit) await restorePaths(worktree, protectedFrom.commit, protectedFrom.globs);
  return { ok: true, state: await recordSetupState(worktree, commit), removed: back.removed };
}

/** Path → blob id of the files of `commit` that match `globs` (setup.inputs), read from the repository alone. */
export async function inputBlobs(gitDir: string, commit: string, globs: readonly string[]): Promise<Map<string, string>> {
  const listed = await git(['--git-dir', gitDir, 'ls-tree', '-r', '-z', '--full-tree', commit], { cwd: gitDir });
  const files = new Map<string, string>();
  for (const line of splitNul(listed.stdout)) {
    // `<mode> <type> <id>\t<path>`: a submodule's id is its commit, as good a key as a blob's.
    const tab = line.indexOf('\t');
    const path = line.slice(tab + 1);
    if (tab > 0 && matchesAny(path, globs)) files.set(path, line.slice(0, tab));
  }
  return files;
}

/** What the worktree holds that a clean checkout of HEAD would not (untracked, ignored or changed), as git lists it. */
export async function leftovers(worktree: string): Promise<string[]> {
  const left = await git(['status', '--porcelain=v1', '-z', '--ignored=matching', '--untracked-files=normal', '--ignore-submodules=none'], { cwd: worktree });
  return splitNul(left.stdout).map((entry) => entry.slice(3));
}

function isUnder(path: string, folders: ReadonlySet<string>): boolean {
  for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) if (folders.has(path.slice(0, at))) return true;
  return false;
}

/**
 * Protected paths a stage touched: changed, removed or added, except additions git ignores
 * (a `__pycache__` next to a protected module is not an edit of it). Sorted.
 */
export async function protectedTouched(worktree: string, changes: TreeChanges, globs: readonly string[]): Promise<string[]> {
  if (globs.length === 0) return [];
  const touched = [...changes.changed, ...changes.removed].filter((path) => matchesAny(path, globs));
  const added = changes.added.filter((path) => matchesAny(path, globs));
  if (added.length > 0) {
    const ignored = await git(['check-ignore', '-z', '--stdin'], { cwd: worktree, input: added.join('\0'), allowFailure: true, env: LITERAL_PATHSPECS });
    const skip = new Set(splitNul(ignored.stdout));
    touched.push(...added.filter((path) => !skip.has(path)));
  }
  return [...new Set(touched)].sort();
}

/**
 * Whether any protected path of `record` changed, or a protected folder gained an entry, looking
 * at those paths alone (not the whole worktree): the check between two runs of a bench.
 */
export async function protectedChanged(worktree: string, record: CheckoutRecord, globs: readonly string[]): Promise<boolean> {
  if (globs.length === 0) return false;
  const guarded = [...record.tree.keys()].filter((path) => matchesAny(path, globs));
  const folders = topmost(guarded.filter((path) => record.tree.get(path)?.startsWith('d:') === true));
  const inFolders = new Set(folders);
  for (const path of guarded) {
    if (isUnder(path, inFolders) || inFolders.has(path)) continue;
    if (stampPath(join(worktree, path)) !== record.tree.get(path)) return true;
  }
  for (const folder of folders) {
    const now = await readTreeState(join(worktree, folder), folder);
    if (stampPath(join(worktree, folder)) !== record.tree.get(folder)) return true;
    const before = new Map([...record.tree].filter(([path]) => path.startsWith(`${folder}/`)));
    if (now.size !== before.size || [...now].some(([path, stamp]) => before.get(path) !== stamp)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The worktree's link to its repository

/** The `gitdir:` a linked worktree's `.git` file names, if it is a readable file that names one. */
export async function linkTarget(worktree: string): Promise<string | undefined> {
  const text = await readFile(join(worktree, '.git'), 'utf8').catch(() => undefined);
  const match = /^gitdir: (.+)$/m.exec(text ?? '');
  return match?.[1]?.trim();
}

/** A HEAD file that holds a commit id alone: detached. */
export const DETACHED_HEAD = /^[0-9a-f]{40}(?:[0-9a-f]{24})?\n?$/;

/**
 * Whether the linked worktree's HEAD is detached (as ratchet leaves it), read through its `.git`
 * link as git reads it. False when it names a branch or cannot be read.
 */
export async function headDetached(worktree: string): Promise<boolean> {
  const admin = await linkTarget(worktree);
  if (admin === undefined) return false;
  const text = await readFile(join(admin, 'HEAD'), 'utf8').catch(() => '');
  return DETACHED_HEAD.test(text);
}

/**
 * Whether the worktree's `.git` link still leads to its own admin folder in `gitDir`, and that
 * folder back to the worktree: a candidate may delete or rewrite it.
 */
export async function worktreeLinkOk(worktree: string, gitDir: string): Promise<boolean> {
  const target = await linkTarget(worktree);
  if (target === undefined || dirname(target) !== join(gitDir, 'worktrees')) return false;
  const back = await readFile(join(target, 'gitdir'), 'utf8').catch(() => '');
  const head = await readFile(join(target, 'HEAD'), 'utf8').catch(() => '');
  return back.trim() === join(worktree, '.git') && head.trim() !== '';
}

/**
 * Rewrites the `.git` link from the admin folder that points back at this worktree. False when
 * there is none (the admin folder itself is gone): the worktree must then be made anew.
 */
export async function repairWorktreeLink(worktree: string, gitDir: string): Promise<boolean> {
  const admin = join(gitDir, 'worktrees');
  const names = await readdir(admin).catch(() => [] as string[]);
  for (const name of names) {
    const back = await readFile(join(admin, name, 'gitdir'), 'utf8').catch(() => '');
    if (back.trim() !== join(worktree, '.git')) continue;
    await rm(join(worktree, '.git'), { recursive: true, force: true });
    await writeFile(join(worktree, '.git'), `gitdir: ${join(admin, name)}\n`);
    return worktreeLinkOk(worktree, gitDir);
  }
  return false;
}
