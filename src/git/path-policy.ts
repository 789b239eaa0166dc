/**
 * Which paths a candidate may change: the spec's `editable` and `protected` globs. Pure.
 *
 * Globs are picomatch globs matched against repository-relative paths with `dot: true`, so
 * `bench/**` covers `bench/.cache/x` too. A pattern without glob characters also covers
 * everything under it as a folder: `protected: [bench]` protects `bench/run.js`.
 */
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
    const patterns = globs.map(normalize);
    const glob = picomatch(patterns, { dot: true });
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
