/**
 * `setup.inputs`: when a worktree's setup outputs may serve another commit instead of setup
 * running again, and which paths those outputs are. Pure: the worker reads the inputs from git
 * and moves the worktree (eval/setup-reuse.ts).
 */
import { matchesAny } from './path-policy.js';

/** What setup's outputs depend on, for one commit. */
export interface SetupInputs {
  command: string;
  /** Protected files come from the run's base commit, whatever the candidate's holds. */
  baseCommit: string;
  protected: readonly string[];
  globs: readonly string[];
  /** Path → blob id of every file of the commit that matches `globs`. */
  files: ReadonlyMap<string, string>;
}

export type SetupReuse = { reuse: true; reason: string } | { reuse: false; reason: string };

export interface SetupReuseQuestion {
  /** The inputs of the commit setup last ran on in this worktree; undefined when it never did here. */
  previous: SetupInputs | undefined;
  now: SetupInputs;
  /**
   * Whether every command run in the worktree since then ran in the sandbox, where git's data
   * and (with inputs) setup's outputs are read-only: outside it, anything could have changed.
   */
  sandboxed: boolean;
  /** Tracked files setup itself changed, protected ones aside: the next commit may have them otherwise. */
  setupChangedTracked: readonly string[];
}

function some(paths: readonly string[]): string {
  return `${paths.slice(0, 3).join(', ')}${paths.length > 3 ? `, and ${paths.length - 3} more` : ''}`;
}

/** Paths whose blob differs between two input sets (added, removed or changed), sorted. */
export function changedInputs(before: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>): string[] {
  const paths = new Set([...before.keys(), ...now.keys()]);
  return [...paths].filter((path) => before.get(path) !== now.get(path)).sort();
}

/** Whether setup's outputs in the worktree may stand for setup at `now`'s commit, and why (not). */
export function setupReuse(question: SetupReuseQuestion): SetupReuse {
  const { previous, now } = question;
  if (!question.sandboxed) return { reuse: false, reason: 'stages run outside the sandbox, where nothing keeps them from changing what setup made' };
  if (previous === undefined) return { reuse: false, reason: 'this worker has no record of setup in this worktree' };
  if (previous.command !== now.command) return { reuse: false, reason: 'the setup command changed' };
  if (previous.baseCommit !== now.baseCommit) return { reuse: false, reason: 'the base commit changed (protected files come from it)' };
  if (previous.protected.join('\0') !== now.protected.join('\0') || previous.globs.join('\0') !== now.globs.join('\0')) {
    return { reuse: false, reason: "the spec's protected or inputs globs changed" };
  }
  const changed = changedInputs(previous.files, now.files);
  if (changed.length > 0) return { reuse: false, reason: `input${changed.length > 1 ? 's' : ''} changed (${some(changed)})` };
  if (question.setupChangedTracked.length > 0) {
    return { reuse: false, reason: `setup changed tracked file${question.setupChangedTracked.length > 1 ? 's' : ''} ${some([...question.setupChangedTracked].sort())}, which another commit may hold otherwise` };
  }
  const files = [...now.files.keys()].sort();
  return { reuse: true, reason: `setup reused: inputs unchanged (${files.length === 0 ? `no file matches ${now.globs.join(', ')}` : some(files)})` };
}

/** Tracked files setup changed, those the base's protected files account for aside. */
export function setupChangedTracked(setupTouched: ReadonlySet<string>, protectedGlobs: readonly string[]): string[] {
  return [...setupTouched].filter((path) => !matchesAny(path, protectedGlobs));
}

/**
 * What setup made or changed in a worktree, as the fewest paths that cover it: the files of the
 * record's tree git does not track (outside the folders of tracked files, an untracked folder is
 * one path) and the tracked files setup changed. Links are left out: a mount of one would bind
 * what it points at, which may be anywhere.
 */
export function setupOutputs(record: { tree: ReadonlyMap<string, string>; tracked: ReadonlySet<string>; setupTouched: ReadonlySet<string> }): string[] {
  const folders = new Set<string>();
  for (const path of record.tracked) {
    for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) folders.add(path.slice(0, at));
  }
  const made = [...record.tree.keys()].filter((path) => !record.tracked.has(path) && !folders.has(path));
  const all = new Set([...made, ...record.setupTouched]);
  const under = (path: string): boolean => {
    for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) if (all.has(path.slice(0, at))) return true;
    return false;
  };
  return [...all].filter((path) => !under(path) && record.tree.get(path)?.startsWith('l:') !== true && record.tree.has(path)).sort();
}
