/**
 * Harvesting a run: `ratchet pick` puts its kept commits on a branch of the user's (one by
 * one, squashed, or split into independent branches) and `ratchet diff` shows what it changed.
 * The picking happens in a temporary worktree inside the git dir and the branch moves only at
 * the end, so the user's checkout is never touched; still, pick refuses a dirty working tree
 * (as the issue asks), which also makes fast-forwarding a checked-out `--onto` branch safe.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { refs } from '../domain/refs.js';
import { EXPERIMENT_ID, type ExperimentId } from '../domain/words.js';
import { formatGain, formatMetric } from '../plan/decide.js';
import { git, type GitResult } from '../git/exec.js';
import { bestGain } from '../plan/fold.js';
import {
  addTempWorktree,
  branchCommit,
  checkBranchName,
  checkedOutAt,
  cherryPick,
  gitLine,
  refuseDirty,
  removeTempWorktree,
  shellQuote,
  treeOf,
  type Repo,
  type TempWorktree,
} from './harvest-git.js';
import { chooseKept, loadHarvest, type HarvestRun, type KeptChange } from './harvest-run.js';
import { splitRun, type SplitResult } from './harvest-split.js';

export interface PickOptions {
  experimentsRoot: string;
  runId: string;
  /** Experiment ids to pick; default every kept one. */
  experiments?: string[];
  /** An existing branch to pick onto; default a new branch from the run's base. */
  onto?: string;
  /** The new branch's name (default `ratchet/<run>/picked`); not with `onto`. */
  branch?: string;
  squash?: boolean;
  /** Independent branches by the files the changes touch. */
  split?: boolean;
}

export interface PickedChange {
  experiment: ExperimentId;
  commit: string;
  description: string;
  gain: number | undefined;
}

export interface PickDone {
  status: 'picked';
  runId: string;
  repo: string;
  branch: string;
  /** A new branch, or an existing one (`--onto`) moved forward. */
  created: boolean;
  from: string;
  head: string;
  squashed: boolean;
  changes: PickedChange[];
  /** Every kept change picked onto the base: does the result equal the best branch's tree? */
  matchesBest: boolean | undefined;
  /** The checkout whose branch was fast-forwarded (an `--onto` branch checked out there). */
  updatedCheckout: string | undefined;
}

export interface PickConflict {
  status: 'conflict';
  runId: string;
  repo: string;
  branch: string;
  worktree: string;
  /** The change that did not apply, and its commit. */
  experiment: ExperimentId | undefined;
  commit: string | undefined;
  files: string[];
  message: string;
  applied: ExperimentId[];
  remaining: ExperimentId[];
  /** Shell lines, run in order: fix the files, then `continue`; or `abort` to leave everything as it was. */
  commands: { continue: string[]; abort: string[] };
}

export type PickResult = PickDone | PickConflict | SplitResult;

export function squashMessage(run: HarvestRun, changes: readonly KeptChange[]): string {
  const { runId, spec } = run.info;
  const all = changes.length === run.kept.length;
  const metric = spec.bench.metric.name;
  const { baseline, best } = run.state;
  // The run measured the whole chain only: a subset's total gain was never measured.
  const total = all && baseline && best ? ` (${metric} ${formatMetric(baseline.metric)} → ${formatMetric(best.metric)}, ${formatGain(bestGain(run.state))})` : '';
  const noun = changes.length === 1 ? 'change' : 'changes';
  const lines = changes.map((c) => `- ${c.experiment} ${c.description.replace(/\s+/g, ' ').trim()} (${formatGain(c.gain)})`);
  return `ratchet ${runId}: ${changes.length} kept ${noun}${total}\n\n${lines.join('\n')}\n\nEach gain is over the best it was measured against (${metric}, ${spec.bench.metric.goal}).\n`;
}

export async function pickRun(options: PickOptions): Promise<PickResult> {
  const run = await loadHarvest(options.experimentsRoot, options.runId);
  const changes = chooseKept(run, options.experiments ?? []);
  if (options.split) {
    if (options.onto !== undefined || options.squash || options.branch !== undefined) throw new UserError('--split makes its own branches from the base; it takes no --onto, --squash or --branch');
    await refuseDirty(run.repo.path);
    return splitRun(run, changes);
  }
  if (options.onto !== undefined && options.branch !== undefined) throw new UserError('give either --onto (an existing branch) or --branch (a new one), not both');
  const repo = run.repo;
  const branch = options.onto ?? options.branch ?? `ratchet/${run.info.runId}/picked`;
  await checkBranchName(repo.path, branch);
  const existing = await branchCommit(repo.path, branch);
  if (options.onto !== undefined && existing === undefined) throw new UserError(`there is no branch ${branch} to pick onto`, { hint: 'without --onto, pick makes a new branch from the run\'s base' });
  if (options.onto === undefined && existing !== undefined) {
    throw new UserError(`branch ${branch} exists already (at ${existing.slice(0, 7)})`, {
      hint: `name another with --branch NAME, pick onto it with --onto ${branch}, or delete it: git -C ${shellQuote(repo.path)} branch -D ${branch}`,
    });
  }
  await refuseDirty(repo.path);
  const checkout = options.onto === undefined ? undefined : await checkedOutAt(repo.path, branch);
  if (checkout !== undefined) await refuseDirty(checkout);
  const from = existing ?? run.info.base;

  const wt = await addTempWorktree(repo, `${run.info.runId}-pick`, from, (path) => unfinished(run, path));
  const message = options.squash ? squashMessage(run, changes) : undefined;
  // Beside the worktree's own git files, so removing the worktree removes it too.
  const messageFile = join(wt.adminDir, 'RATCHET_SQUASH_MSG');
  let stop;
  try {
    if (message !== undefined) await writeFile(messageFile, message);
    stop = await cherryPick(repo, wt.path, from, changes.map((c) => c.commit), { recordOrigin: options.squash !== true });
  } catch (error) {
    await removeTempWorktree(repo, wt).catch(() => undefined);
    throw error;
  }
  const finish = finishing(repo, wt, { branch, from, created: existing === undefined, checkout, squash: message === undefined ? undefined : messageFile });
  if (stop !== undefined) {
    const stopped = changes.find((c) => c.commit === stop.commit);
    return {
      status: 'conflict',
      runId: run.info.runId,
      repo: repo.path,
      branch,
      worktree: wt.path,
      experiment: stopped?.experiment,
      commit: stop.commit,
      files: stop.files,
      message: stop.message,
      applied: changes.slice(0, stop.applied).map((c) => c.experiment),
      remaining: changes.slice(stop.applied).map((c) => c.experiment),
      commands: {
        continue: [gitLine(['-C', wt.path, 'add', '-A']), gitLine(['-C', wt.path, ...repo.identity, 'cherry-pick', '--continue', '--no-edit']), ...finish.lines],
        abort: [finish.cleanup],
      },
    };
  }
  let moved;
  try {
    moved = await finish.run();
  } catch (error) {
    await removeTempWorktree(repo, wt).catch(() => undefined);
    throw error;
  }
  if (moved.exitCode !== 0) {
    // Say, for example, an untracked file in the way of the fast-forward: the pick is kept.
    throw new UserError(`the pick is done in ${wt.path}, but ${branch} could not move: ${moved.stderr.trim()}`, { hint: `fix that, then run: ${finish.lines.slice(-2).join(' && ')}` });
  }
  await removeTempWorktree(repo, wt).catch(() => undefined);
  const head = (await git(['rev-parse', `refs/heads/${branch}`], { cwd: repo.path })).stdout.trim();
  const all = changes.length === run.kept.length && from === run.info.base;
  const bestTree = all ? await treeOf(repo.path, refs(run.info.runId).best) : undefined;
  return {
    status: 'picked',
    runId: run.info.runId,
    repo: repo.path,
    branch,
    created: existing === undefined,
    from,
    head,
    squashed: message !== undefined,
    changes: changes.map(({ experiment, commit, description, gain }) => ({ experiment, commit, description, gain })),
    matchesBest: bestTree === undefined ? undefined : bestTree === (await treeOf(repo.path, head)),
    updatedCheckout: checkout,
  };
}

function unfinished(run: HarvestRun, path: string): UserError {
  return new UserError(`an earlier pick of run ${run.info.runId} is unfinished in ${path}`, {
    hint: `finish it with the commands it printed, or drop it: git -C ${shellQuote(run.repo.path)} worktree remove --force ${shellQuote(path)}`,
  });
}

/**
 * The end of a pick, as shell lines (printed after a conflict) and as what pickRun runs itself.
 * The branch moves only here: created if new, fast-forwarded where it is checked out, else moved
 * from the commit the pick started on (so a branch that moved meanwhile is not overwritten).
 */
function finishing(
  repo: Repo,
  wt: TempWorktree,
  target: { branch: string; from: string; created: boolean; checkout: string | undefined; squash: string | undefined },
): { lines: string[]; cleanup: string; run: () => Promise<GitResult> } {
  const inWt = (args: string[]): string[] => ['-C', wt.path, ...args];
  const squash = target.squash === undefined ? [] : [['reset', '--soft', target.from], [...repo.identity, 'commit', '--quiet', '-F', target.squash]];
  const head = `worktrees/${wt.name}/HEAD`;
  const move =
    target.checkout !== undefined
      ? ['-C', target.checkout, 'merge', '--ff-only', '--quiet', head]
      : target.created
        ? ['-C', repo.path, 'branch', target.branch, head]
        : ['-C', repo.path, 'update-ref', '-m', 'ratchet pick', `refs/heads/${target.branch}`, head, target.from];
  const remove = ['-C', repo.path, 'worktree', 'remove', '--force', wt.path];
  return {
    lines: [...squash.map((args) => gitLine(inWt(args))), gitLine(move), gitLine(remove)],
    cleanup: gitLine(remove),
    run: async () => {
      for (const args of squash) await git(args, { cwd: wt.path });
      const [, cwd = repo.path, ...rest] = move;
      return git(rest, { cwd, allowFailure: true });
    },
  };
}

export interface DiffOptions {
  experimentsRoot: string;
  runId: string;
  /** One experiment's own change (against its parent) instead of the best against the base. */
  experiment?: string;
  /** Only the summary of files, no patch. */
  stat?: boolean;
}

export interface DiffResult {
  runId: string;
  repo: string;
  base: string;
  ref: string;
  /** The commit shown; undefined for an experiment that made none (see `note`). */
  commit: string | undefined;
  /** What it is diffed against: the run's base for the best, the experiment's parent for one experiment. */
  from: string;
  files: { path: string; insertions: number | undefined; deletions: number | undefined }[];
  stat: string;
  patch: string | undefined;
  /** Why there is nothing to show (an experiment without a commit), in a line. */
  note: string | undefined;
}

/**
 * The best against the run's base, or one experiment's own change against its parent (the best
 * it started from): a discarded or rejected experiment shows what it tried, not what the keeps
 * before it did, and one that made no commit shows nothing and says why.
 */
export async function diffRun(options: DiffOptions): Promise<DiffResult> {
  const run = await loadHarvest(options.experimentsRoot, options.runId);
  const { info } = run;
  const repo = run.repo;
  const exp = options.experiment;
  const r = refs(info.runId);
  const result = { runId: info.runId, repo: repo.path, base: info.base, files: [], stat: '', patch: options.stat ? undefined : '', note: undefined };
  if (exp === undefined) {
    const commit = await git(['rev-parse', '--verify', '--quiet', `${r.best}^{commit}`], { cwd: repo.path, allowFailure: true });
    if (commit.exitCode !== 0) throw new UserError(`${r.best.replace('refs/heads/', '')} is not in ${repo.path}`, { hint: 'the run has not measured its baseline yet' });
    return { ...result, ...(await diffCommits(repo.path, info.base, commit.stdout.trim(), options.stat === true)), ref: r.best.replace('refs/heads/', '') };
  }
  if (!EXPERIMENT_ID.test(exp)) throw new UserError(`"${exp}" is not an experiment id`, { hint: 'experiment ids look like e0003' });
  const e = run.state.experiments.get(exp);
  if (e === undefined) throw new UserError(`run ${info.runId} has no experiment ${exp}`, { hint: `see its experiments with: ratchet show ${info.runId}` });
  const ref = r.experiment(exp).replace('refs/heads/', '');
  if (e.commit === undefined) {
    const why = e.finished === undefined ? `it is still ${e.phase === 'proposing' ? 'being proposed' : e.phase}` : `${e.finished.verdict}: ${e.finished.reason}`;
    return { ...result, ref, commit: undefined, from: e.parent, note: `${exp} made no commit (${why}), so it has no change to show; see it with: ratchet show ${info.runId} ${exp}` };
  }
  // The baseline's "change" is the base itself: nothing.
  const from = exp === 'e0000' ? e.commit : e.parent;
  return { ...result, ...(await diffCommits(repo.path, from, e.commit, options.stat === true)), ref };
}

async function diffCommits(repo: string, from: string, to: string, statOnly: boolean): Promise<Pick<DiffResult, 'commit' | 'from' | 'files' | 'stat' | 'patch'>> {
  const range = [from, to];
  const plain = ['--no-color', '--no-ext-diff'];
  const numstat = await git(['diff', ...plain, '--numstat', '-z', '--no-renames', ...range], { cwd: repo });
  const stat = await git(['diff', ...plain, '--stat', ...range], { cwd: repo });
  const patch = statOnly ? undefined : (await git(['diff', ...plain, ...range], { cwd: repo })).stdout;
  return { commit: to, from, files: parseNumstat(numstat.stdout), stat: stat.stdout, patch };
}

function parseNumstat(text: string): DiffResult['files'] {
  return text
    .split('\0')
    .filter((field) => field !== '')
    .map((field) => {
      const [ins = '-', del = '-', path = ''] = field.split('\t');
      return { path, insertions: ins === '-' ? undefined : Number(ins), deletions: del === '-' ? undefined : Number(del) };
    });
}
