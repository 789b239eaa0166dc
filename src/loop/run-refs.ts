/**
 * The run's own refs are the log's: `ratchet/<run>/best` at the recorded best, each experiment's
 * ref at its recorded commit. A candidate may move them (outside the sandbox); before the best
 * moves, and after each experiment, they are compared with the log and put back. Pure.
 */
import type { RunState } from '../domain/run-state.js';

/** Ref → commit, as the log says. */
export function expectedRunRefs(state: RunState, prefix: string, baseCommit: string): Map<string, string> {
  const refs = new Map<string, string>();
  // Before the baseline is recorded, the best branch already stands at the base commit.
  refs.set(`${prefix}best`, state.best?.commit ?? baseCommit);
  for (const e of state.experiments.values()) refs.set(`${prefix}${e.id}`, e.commit ?? e.finished?.commit ?? e.parent);
  return refs;
}

export interface RefDrift {
  ref: string;
  /** Where the log says it is. */
  expected: string;
  actual: string | undefined;
}

/**
 * Refs the log knows that are not where it says. Refs it does not know are left alone: an
 * experiment cancelled by a crash is forgotten by the log, but its ref is still what it tried.
 */
export function runRefDrift(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): RefDrift[] {
  const drift: RefDrift[] = [];
  for (const [ref, sha] of expected) if (actual.get(ref) !== sha) drift.push({ ref, expected: sha, actual: actual.get(ref) });
  return drift.sort((a, b) => a.ref.localeCompare(b.ref));
}
