/**
 * `ratchet pick --split`: the kept changes as independent branches, one per group of changes
 * that touch common files (so each group applies on the base by itself and can be reviewed and
 * merged on its own), and a check that the groups together make the best branch's tree.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { refs } from '../domain/refs.js';
import type { ExperimentId } from '../domain/words.js';
import { git, splitNul } from '../git/exec.js';
import { addTempWorktree, branchCommit, cherryPick, removeTempWorktree, shellQuote, treeOf } from './harvest-git.js';
import type { HarvestRun, KeptChange } from './harvest-run.js';

export interface SplitGroup {
  branch: string;
  experiments: ExperimentId[];
  descriptions: string[];
  files: string[];
  /** The branch's commit; undefined when the group did not apply on the base by itself. */
  head: string | undefined;
  problem: string | undefined;
}

export interface SplitResult {
  status: 'split';
  runId: string;
  repo: string;
  base: string;
  groups: SplitGroup[];
  /** Every group's diff applied together on the base, against the best branch's tree. */
  union: {
    tree: string | undefined;
    bestTree: string | undefined;
    /** Undefined when only some kept changes were picked: the best holds more than the union. */
    matches: boolean | undefined;
    problem: string | undefined;
  };
}

/** Groups of indexes of `changes` that share a file, transitively (union-find), in order. */
export function groupByFiles(changes: readonly { files: readonly string[] }[]): number[][] {
  const parent = changes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const owner = new Map<string, number>();
  changes.forEach((change, i) => {
    for (const file of change.files) {
      const other = owner.get(file);
      if (other === undefined) owner.set(file, i);
      else parent[find(i)] = find(other);
    }
  });
  const groups = new Map<number, number[]>();
  changes.forEach((_, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), i]);
  });
  // Ordered by their first change, each group's changes in run order.
  return [...groups.values()].sort((a, b) => a[0]! - b[0]!);
}

export function slug(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, 40).replace(/-+$/, '');
  return s === '' ? 'change' : s;
}

async function filesOf(cwd: string, commit: string): Promise<string[]> {
  const { stdout } = await git(['diff', '--name-only', '-z', '--no-renames', `${commit}^`, commit], { cwd });
  return splitNul(stdout);
}

export async function splitRun(run: HarvestRun, changes: readonly KeptChange[]): Promise<SplitResult> {
  const { repo, info } = run;
  const base = info.base;
  const touched = await Promise.all(changes.map(async (c) => ({ ...c, files: await filesOf(repo.path, c.commit) })));
  const groups: SplitGroup[] = groupByFiles(touched).map((members, i) => {
    const picked = members.map((m) => touched[m]!);
    return {
      branch: `ratchet/${info.runId}/split-${i + 1}-${slug(picked[0]!.description)}`,
      experiments: picked.map((c) => c.experiment),
      descriptions: picked.map((c) => c.description),
      files: [...new Set(picked.flatMap((c) => c.files))].sort(),
      head: undefined,
      problem: undefined,
    };
  });
  const taken = (await Promise.all(groups.map(async (g) => ((await branchCommit(repo.path, g.branch)) === undefined ? [] : [g.branch])))).flat();
  if (taken.length > 0) {
    throw new UserError(`split branches exist already: ${taken.join(', ')}`, { hint: `delete them first: git -C ${shellQuote(repo.path)} branch -D ${taken.join(' ')}` });
  }

  const wt = await addTempWorktree(repo, `${info.runId}-split`, base, (path) =>
    new UserError(`an earlier split of run ${info.runId} was left in ${path}`, { hint: `remove it: git -C ${shellQuote(repo.path)} worktree remove --force ${shellQuote(path)}` }),
  );
  try {
    for (const group of groups) {
      await git(['checkout', '--quiet', '--detach', base], { cwd: wt.path });
      const commits = group.experiments.map((id) => touched.find((c) => c.experiment === id)!.commit);
      const stop = await cherryPick(repo, wt.path, base, commits, { recordOrigin: true });
      if (stop === undefined) {
        group.head = (await git(['rev-parse', 'HEAD'], { cwd: wt.path })).stdout.trim();
        continue;
      }
      await git(['cherry-pick', '--abort'], { cwd: wt.path, allowFailure: true });
      const failed = touched.find((c) => c.commit === stop.commit)?.experiment ?? 'a change';
      group.problem = `${failed} does not apply on the base without changes outside this group: ${stop.message.split('\n')[0] ?? ''}`;
    }
  } finally {
    await removeTempWorktree(repo, wt).catch(() => undefined);
  }
  for (const group of groups) {
    if (group.head !== undefined) await git(['branch', group.branch, group.head], { cwd: repo.path });
  }
  const all = changes.length === run.kept.length;
  return { status: 'split', runId: info.runId, repo: repo.path, base, groups, union: await checkUnion(run, groups, all) };
}

/** Applies every group's diff to the base in a scratch index and compares the tree with the best's. */
async function checkUnion(run: HarvestRun, groups: readonly SplitGroup[], all: boolean): Promise<SplitResult['union']> {
  const { repo, info } = run;
  const bestTree = await treeOf(repo.path, refs(info.runId).best);
  const missing = groups.filter((g) => g.head === undefined);
  if (missing.length > 0) {
    return { tree: undefined, bestTree, matches: false, problem: `${missing.map((g) => g.branch).join(', ')} did not apply, so the groups cannot make the best` };
  }
  const index = join(repo.gitDir, 'ratchet', 'harvest', `${info.runId}-split.index`);
  const env = { GIT_INDEX_FILE: index };
  try {
    await git(['read-tree', info.base], { cwd: repo.path, env });
    for (const group of groups) {
      const diff = await git(['diff', '--binary', '--no-color', '--no-ext-diff', info.base, group.head!], { cwd: repo.path });
      if (diff.stdout === '') continue;
      const applied = await git(['apply', '--cached', '--whitespace=nowarn'], { cwd: repo.path, env, input: `${diff.stdout}\n`, allowFailure: true });
      if (applied.exitCode !== 0) {
        return { tree: undefined, bestTree, matches: false, problem: `${group.branch} does not apply on top of the groups before it: ${applied.stderr.trim()}` };
      }
    }
    const tree = (await git(['write-tree'], { cwd: repo.path, env })).stdout.trim();
    const matches = all ? tree === bestTree : undefined;
    const problem = matches === false ? `the groups together give tree ${tree.slice(0, 10)}, the best branch has ${bestTree?.slice(0, 10) ?? 'none'}` : undefined;
    return { tree, bestTree, matches, problem };
  } finally {
    await rm(index, { force: true });
  }
}
