/**
 * What a stage's commands may see inside the sandbox: the repository's git data read-only (no
 * other worktree, no lock), its own worktree writable, the worktree's `.git` link and every
 * protected file read-only. After setup, whole protected folders are read-only too, so no stage
 * can add a file to the evaluator; setup may (a dataset it downloads), and what it adds that git
 * does not ignore is caught afterwards. Pure, apart from asking whether a folder exists.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckoutRecord } from '../domain/checkout-guard.js';
import type { SandboxMount, SandboxRequest } from '../domain/command-runner.js';
import type { StageKind } from '../domain/evaluation.js';
import type { LocatedRequest } from './isolation.js';
import { globRoots, matchesAny, underRoots } from '../plan/path-policy.js';
import { setupOutputs } from '../plan/setup-reuse.js';
import { setupInputs } from '../domain/spec.js';

/** A name no real file has, to ask whether anything new in a folder would be protected. */
const PROBES = ['ratchet-probe', '.ratchet-probe/x'];

/** Folders every entry of which is a protected file: one mount covers them all. */
function whollyProtected(tree: ReadonlyMap<string, string>, isProtected: (path: string) => boolean): string[] {
  const counts = new Map<string, { all: number; guarded: number }>();
  for (const [path, stamp] of tree) {
    if (stamp.startsWith('d:')) continue;
    const guarded = stamp.startsWith('f:') && isProtected(path);
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const folder = path.slice(0, at);
      const count = counts.get(folder) ?? { all: 0, guarded: 0 };
      count.all++;
      if (guarded) count.guarded++;
      counts.set(folder, count);
    }
  }
  return [...counts].filter(([, c]) => c.all > 0 && c.all === c.guarded).map(([folder]) => folder);
}

/**
 * The folders above the roots (`a` for `a/b/**`) that hold nothing but protected files: their
 * files all lie within the roots (`within`), so only those are matched; the rest of the tree is
 * only walked to find a file that is not, which makes the folder not wholly protected.
 */
function protectedAncestors(whole: ReadonlyMap<string, string>, within: ReadonlyMap<string, string>, roots: readonly string[], isProtected: (path: string) => boolean): string[] {
  const ancestors = new Set<string>();
  for (const root of roots) for (let at = root.lastIndexOf('/'); at > 0; at = root.lastIndexOf('/', at - 1)) ancestors.add(root.slice(0, at));
  if (ancestors.size === 0) return [];
  const holds = new Map<string, boolean>();
  for (const [path, stamp] of whole) {
    if (stamp.startsWith('d:')) continue;
    for (const folder of ancestors) {
      if (!path.startsWith(`${folder}/`) || holds.get(folder) === false) continue;
      holds.set(folder, within.has(path) && stamp.startsWith('f:') && isProtected(path));
    }
  }
  return [...holds].filter(([, all]) => all).map(([folder]) => folder);
}

/**
 * Read-only mounts for the protected paths present in the worktree (`tree`: path → stamp).
 * With `wholeFolders`, a folder is one mount when anything new in it would be protected too
 * (`bench/**`) or when all it holds is protected (`eval/*.json`): bubblewrap's cost grows with
 * the square of its mounts, so fewer, larger ones matter.
 */
export function protectedMounts(worktree: string, whole: ReadonlyMap<string, string>, globs: readonly string[], wholeFolders: boolean): SandboxMount[] {
  if (globs.length === 0) return [];
  const isProtected = (path: string): boolean => matchesAny(path, globs);
  // Only at or under the globs' roots can anything be protected: on a large worktree most of it
  // is not, and matching every path took longer than the sandbox's start.
  const roots = globRoots(globs);
  const tree = roots === undefined ? whole : new Map([...whole].filter(([path]) => underRoots(path, roots)));
  const folders = wholeFolders
    ? [
        ...[...tree].filter(([path, stamp]) => stamp.startsWith('d:') && PROBES.every((probe) => isProtected(`${path}/${probe}`))).map(([path]) => path),
        ...whollyProtected(tree, isProtected).filter((folder) => roots === undefined || underRoots(folder, roots)),
        ...(roots === undefined ? [] : protectedAncestors(whole, tree, roots, isProtected)),
      ]
    : [];
  const topFolders = [...new Set(folders)].filter((path) => !folders.some((other) => path.startsWith(`${other}/`)));
  const covered = (path: string): boolean => topFolders.some((folder) => path.startsWith(`${folder}/`));
  // Links are left out: binding one would bind what it points at, which may be anywhere.
  const files = [...tree].filter(([path, stamp]) => stamp.startsWith('f:') && !covered(path) && isProtected(path)).map(([path]) => path);
  return [...topFolders, ...files].sort().map((path) => ({ kind: 'ro', path: join(worktree, path) }));
}

/** `~/x` against the HOME of this machine. */
function expandHome(path: string): string {
  const home = process.env['HOME'];
  return home !== undefined && (path === '~' || path.startsWith('~/')) ? join(home, path.slice(1)) : path;
}

/**
 * A checkout's mounts: the spec's extra toolchain folders, the git data read-only without
 * ratchet's folder in it, the worktree writable, its `.git` link and protected paths read-only.
 */
export function checkoutMounts(options: {
  gitDir: string;
  worktree: string;
  tree: ReadonlyMap<string, string>;
  protected: readonly string[];
  wholeFolders: boolean;
  sandboxPaths: readonly string[];
  /**
   * The holdout folder: hidden (an empty private folder over it) unless `showHoldout`, then
   * read-only. Last, so no mount before it (a toolchain folder above it) reveals it.
   */
  holdoutDir?: string | undefined;
  showHoldout?: boolean;
  /** Read-only mounts of setup's outputs (setupOutputMounts), after the worktree's own. */
  setupOutputs?: readonly SandboxMount[];
}): SandboxMount[] {
  const ratchetDir = join(options.gitDir, 'ratchet');
  const link = join(options.worktree, '.git');
  // Only what exists can be mounted (bwrap refuses a missing source).
  const ifExists = (mount: SandboxMount): SandboxMount[] => (existsSync(mount.path) ? [mount] : []);
  return [
    ...options.sandboxPaths.flatMap((path) => ifExists({ kind: 'ro', path: expandHome(path) })),
    ...ifExists({ kind: 'ro', path: options.gitDir }),
    // Every worktree of every run, and the repository lock, live here.
    ...ifExists({ kind: 'hide', path: ratchetDir }),
    { kind: 'rw', path: options.worktree },
    ...ifExists({ kind: 'ro', path: link }),
    ...(options.setupOutputs ?? []),
    ...protectedMounts(options.worktree, options.tree, options.protected, options.wholeFolders),
    ...(options.holdoutDir === undefined ? [] : holdoutMounts(options.holdoutDir, options.showHoldout === true)),
  ];
}

/**
 * The holdout folder for the holdout stage (read-only, at its own path, so `{holdout}` is the
 * same inside and outside the sandbox) or for anything else (an empty folder over it).
 */
export function holdoutMounts(dir: string, show: boolean): SandboxMount[] {
  return show ? [{ kind: 'ro', path: dir }] : [{ kind: 'hide', path: dir }];
}

/**
 * With setup.inputs, setup's outputs serve later candidates: every stage after setup sees them
 * read-only, so no candidate can poison a `node_modules` for the next. One mount per topmost
 * output (an untracked folder is one), as bubblewrap's cost grows with its mounts.
 */
export function setupOutputMounts(request: LocatedRequest, stage: StageKind, worktree: string, record: CheckoutRecord): SandboxMount[] {
  if (stage === 'setup' || setupInputs(request.spec).length === 0) return [];
  // Only what exists can be mounted (bwrap refuses a missing source).
  return setupOutputs(record).flatMap((path): SandboxMount[] => (existsSync(join(worktree, path)) ? [{ kind: 'ro', path: join(worktree, path) }] : []));
}

export function stageSandbox(request: LocatedRequest, stage: StageKind, worktree: string, record: CheckoutRecord): SandboxRequest {
  const mounts = checkoutMounts({
    gitDir: request.gitDir,
    worktree,
    tree: record.tree,
    protected: request.spec.protected,
    wholeFolders: stage !== 'setup',
    sandboxPaths: request.spec.sandbox_paths,
    holdoutDir: request.spec.holdout?.dir,
    showHoldout: stage === 'holdout',
    setupOutputs: setupOutputMounts(request, stage, worktree, record),
  });
  return { mode: request.spec.sandbox, mounts, network: stage === 'setup' && request.spec.setup_network };
}

/** A tree of plain files (and their folders) from a file list, for mounts built from `git ls-files`. */
export function treeOfFiles(files: readonly string[]): Map<string, string> {
  const tree = new Map<string, string>();
  for (const file of files) {
    tree.set(file, 'f:');
    for (let at = file.indexOf('/'); at > 0; at = file.indexOf('/', at + 1)) tree.set(file.slice(0, at), 'd:');
  }
  return tree;
}
