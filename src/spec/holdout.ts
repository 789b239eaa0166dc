/**
 * The filesystem stage of a spec's `holdout`: its folder resolved (relative to the spec's
 * folder), and refused unless it is a folder that exists outside the target repository. The
 * schema cannot say this: it needs the disk and the repository's place. Every problem at once.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Issue } from '../domain/errors.js';
import type { Spec } from '../domain/spec.js';

export interface HoldoutPlaces {
  /** The folder `holdout.dir` is relative to: the spec file's, or the repository's for flags alone. */
  base: string;
  /** The target repository's worktree root and its common git dir. */
  repo: string;
  gitDir: string;
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

/**
 * The holdout folder's real path (symlinks resolved, so the sandbox hides what is really
 * there), or the problems with it. A spec without a holdout has none.
 */
export async function checkHoldoutDir(spec: Spec, places: HoldoutPlaces): Promise<{ dir: string | undefined; issues: Issue[] }> {
  if (spec.holdout === undefined) return { dir: undefined, issues: [] };
  const given = spec.holdout.dir;
  const path = resolve(places.base, given);
  const issues: Issue[] = [];
  const problem = (message: string): void => void issues.push({ path: 'holdout.dir', message });
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) problem(`${path} does not exist; create the folder with the holdout's evaluator and data, outside the repository`);
  else if (!info.isDirectory()) problem(`${path} is not a folder; name the folder that holds the holdout's evaluator and data`);
  const real = await canonical(path);
  const [repo, gitDir] = await Promise.all([canonical(places.repo), canonical(places.gitDir)]);
  for (const [place, name] of [
    [repo, 'the target repository'],
    [gitDir, "the repository's git dir"],
  ] as const) {
    if (isInside(real, place)) {
      problem(`${path} is inside ${name} (${place}), where the agent can read it; move it outside, for example to ${resolve(repo, '..', 'holdout-eval')}`);
    } else if (isInside(place, real)) {
      problem(`${path} contains ${name} (${place}); the holdout must be a folder of its own beside the repository`);
    }
  }
  return { dir: issues.length === 0 ? real : undefined, issues };
}
