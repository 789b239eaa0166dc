/**
 * Which paths a candidate may change: the spec's `editable` and `protected` globs. Pure.
 *
 * Globs are picomatch globs matched against repository-relative paths with `dot: true`, so
 * `bench/**` covers `bench/.cache/x` too. A pattern without glob characters also covers
 * everything under it as a folder: `protected: [bench]` protects `bench/run.js`.
 */
import { posix } from 'node:path';
import picomatch from 'picomatch';

export interface PathPolicy {
  /** Globs the agent may change; empty means everything not protected. */
  editable: readonly string[];
  /** Globs the agent must never change; these win over `editable`. */
  protected: readonly string[];
}

export type PathCheck = { ok: true } | { ok: false; reason: string };

type Matcher = (path: string) => boolean;
const matchers = new Map<string, Matcher>();

function compile(globs: readonly string[]): Matcher {
  const key = globs.join('\0');
  let matcher = matchers.get(key);
  if (matcher === undefined) {
    // `.` and `./` are the root folder, which holds everything (and picomatch throws on '').
    const patterns = globs.map(normalize).map((p) => (p === '' || p === '.' ? '**' : p));
    // `s`: git paths may hold line breaks, and `bench/**` must still cover `bench/a<LF>b.js`.
    const glob = picomatch(patterns, { dot: true, flags: 's' });
    const folders = patterns.filter((p) => !picomatch.scan(p).isGlob).map((p) => `${p.replace(/\/+$/, '')}/`);
    matcher = (path) => glob(path) || folders.some((folder) => path.startsWith(folder));
    matchers.set(key, matcher);
  }
  return matcher;
}

/** Git prints `a/b`; users write `./a/b` too. */
function normalize(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

export function matchesAny(path: string, globs: readonly string[]): boolean {
  return globs.length > 0 && compile(globs)(normalize(path));
}

/**
 * The paths at or under which everything `globs` can match lies: each glob's fixed part (`bench`
 * for `bench/**`, `ratchet.yaml` for itself), sorted. Undefined when one can match anywhere
 * (a leading globstar, a negation, the root, a brace at the start), so a caller has to look at
 * everything.
 */
export function globRoots(globs: readonly string[]): string[] | undefined {
  const roots = new Set<string>();
  for (const glob of globs) {
    const pattern = normalize(glob);
    const { base, negated, isGlob } = picomatch.scan(pattern);
    const root = (isGlob ? base : pattern).replace(/\/+$/, '');
    if (negated || root === '' || root === '.' || root.split('/').some((part) => part === '..' || part === '.' || part === '')) return undefined;
    roots.add(root);
  }
  return [...roots].sort();
}

/**
 * The top-level entries under which `globs` can match anything (the first part of each root), or
 * undefined when one of them can match anywhere. Where a protected path can be, and every folder
 * above one, is under these: what a look at the protected paths alone has to walk. Sorted.
 */
export function globTops(globs: readonly string[]): string[] | undefined {
  const roots = globRoots(globs);
  return roots === undefined ? undefined : [...new Set(roots.map((root) => root.split('/')[0]!))].sort();
}

/** Whether `path` is one of `roots` or lies under one (roots as `globRoots` gives them). */
export function underRoots(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(`${root}/`));
}

/** Whether the agent may change `path` (for the agent's write and edit tools). */
export function isEditable(path: string, policy: PathPolicy): boolean {
  if (matchesAny(path, policy.protected)) return false;
  return policy.editable.length === 0 || matchesAny(path, policy.editable);
}

/** Whether every path of a change is allowed; the reason names the first offending path. */
export function checkPaths(files: readonly string[], policy: PathPolicy): PathCheck {
  // A protected path is the graver fault, so it is reported before any merely non-editable one.
  const guarded = files.find((file) => matchesAny(file, policy.protected));
  if (guarded !== undefined) return { ok: false, reason: `touches protected path ${guarded}` };
  if (policy.editable.length === 0) return { ok: true };
  const outside = files.find((file) => !matchesAny(file, policy.editable));
  if (outside !== undefined) return { ok: false, reason: `changes ${outside}, outside editable (${policy.editable.join(', ')})` };
  return { ok: true };
}

/**
 * Why a symlink the candidate added or changed may not stay, or undefined when it may: it must
 * point inside the worktree, and not at, into or above a protected path, or a command that reads
 * it would read the machine, and a write through it would reach the evaluator. Pure.
 */
export function symlinkProblem(link: string, target: string, protectedGlobs: readonly string[]): string | undefined {
  if (target === '' || target.includes('\0')) return `adds a symlink ${link} with an empty or invalid target`;
  if (posix.isAbsolute(target)) return `adds a symlink ${link} pointing outside the worktree (${target})`;
  // A trailing slash names the same place: `./` is the root and `bench/` is bench.
  const resolved = posix.normalize(posix.join(posix.dirname(link), target)).replace(/(.)\/+$/, '$1');
  if (resolved === '..' || resolved.startsWith('../')) return `adds a symlink ${link} pointing outside the worktree (${target})`;
  if (resolved === '.' || resolved === '.git' || resolved.startsWith('.git/')) return `adds a symlink ${link} pointing at the worktree's own ${resolved === '.' ? 'root' : '.git'}`;
  if (matchesAny(resolved, protectedGlobs) || matchesAny(`${resolved}/ratchet-probe`, protectedGlobs)) {
    return `adds a symlink ${link} into protected path ${resolved}`;
  }
  // A folder that holds a protected path leads to it as well (`x -> bench`, then `x/run.js`):
  // refused when a protected glob's fixed part lies inside it.
  const held = protectedGlobs.find((glob) => {
    const { base, negated } = picomatch.scan(normalize(glob));
    const folder = base.replace(/\/+$/, '');
    return !negated && (folder === resolved || folder.startsWith(`${resolved}/`));
  });
  if (held !== undefined) return `adds a symlink ${link} to ${resolved}, which holds protected path ${held}`;
  return undefined;
}
