import type { Command } from 'commander';
import { diffRun, pickRun, type PickConflict, type PickDone, type PickResult } from '../../app/harvest.js';
import type { SplitResult } from '../../app/harvest-split.js';
import { locateRun } from '../../app/runs.js';
import { formatGain } from '../../plan/decide.js';
import { out, printJson } from '../output.js';
import { experimentsOption, runsWhere } from './common.js';

function formatPicked(r: PickDone): string {
  const what = r.squashed ? `1 commit squashing ${r.changes.length} kept change${r.changes.length === 1 ? '' : 's'}` : `${r.changes.length} kept change${r.changes.length === 1 ? '' : 's'}`;
  const lines = [`${r.created ? 'created' : 'moved'} ${r.branch} at ${r.head.slice(0, 7)}: ${what} on ${r.from.slice(0, 7)}`];
  for (const c of r.changes) lines.push(`  ${c.experiment} ${formatGain(c.gain).padStart(7)}  ${c.description}`);
  if (r.matchesBest !== undefined) lines.push(r.matchesBest ? '  the tree equals the best branch' : `  warning: the tree differs from the best branch (see: ratchet diff ${r.runId})`);
  if (r.updatedCheckout !== undefined) lines.push(`  fast-forwarded the checkout at ${r.updatedCheckout}`);
  return lines.join('\n');
}

export function formatConflict(r: PickConflict): string {
  return [
    `stopped: ${r.experiment ?? 'a change'} (${r.commit?.slice(0, 7) ?? '?'}) does not apply onto ${r.branch}${r.files.length > 0 ? `; conflicts in ${r.files.join(', ')}` : ''}`,
    `  applied so far: ${r.applied.join(', ') || 'none'}; still to apply: ${r.remaining.join(', ')}`,
    `  the pick is waiting in ${r.worktree}; ${r.branch} has not moved`,
    '',
    `to continue: fix the files in ${r.worktree}, then run (repeat the first two for each further conflict):`,
    ...r.commands.continue.map((c) => `  ${c}`),
    '',
    'to abort (nothing else changed):',
    ...r.commands.abort.map((c) => `  ${c}`),
  ].join('\n');
}

function formatSplit(r: SplitResult): string {
  const lines = [`split ${r.runId} into ${r.groups.length} branch${r.groups.length === 1 ? '' : 'es'} from ${r.base.slice(0, 7)}:`];
  for (const g of r.groups) {
    lines.push(`  ${g.head === undefined ? 'NOT CREATED' : g.branch}  ${g.experiments.join(', ')}  (${g.files.join(', ')})`);
    if (g.problem !== undefined) lines.push(`    ${g.branch}: ${g.problem}`);
  }
  const u = r.union;
  lines.push(u.matches === true ? '  together they equal the best branch' : u.matches === undefined && u.problem === undefined ? '  (only some kept changes were picked, so not compared with the best branch)' : `  warning: ${u.problem ?? 'the union differs from the best branch'}`);
  return lines.join('\n');
}

function formatPick(r: PickResult): string {
  return r.status === 'picked' ? formatPicked(r) : r.status === 'conflict' ? formatConflict(r) : formatSplit(r);
}

export function registerHarvest(program: Command): void {
  program
    .command('pick')
    .description("put a run's kept commits, in order, on a new branch from its base (or onto a branch of yours)")
    .argument('<run>', 'the run id')
    .argument('[experiments...]', 'only these kept experiments, e.g. e0003 e0007')
    .addOption(experimentsOption())
    .option('--onto <branch>', 'an existing branch to pick onto')
    .option('--branch <name>', 'the new branch (default: ratchet/<run>/picked)')
    .option('--squash', 'one commit whose message lists every change and its gain')
    .option('--split', 'independent branches, one per group of changes touching common files')
    .option('--json', 'print JSON')
    .action(async (runId: string, experiments: string[], o: { experiments?: string; onto?: string; branch?: string; squash?: boolean; split?: boolean; json?: boolean }) => {
      const { root } = await locateRun(runId, runsWhere(o));
      const result = await pickRun({
        experimentsRoot: root,
        runId,
        experiments,
        ...(o.onto === undefined ? {} : { onto: o.onto }),
        ...(o.branch === undefined ? {} : { branch: o.branch }),
        squash: o.squash === true,
        split: o.split === true,
      });
      if (o.json) printJson(result);
      else out(formatPick(result));
      // Like git: a pick that stopped on a conflict is not done.
      if (result.status === 'conflict' || (result.status === 'split' && result.union.matches === false)) process.exitCode = 1;
    });

  program
    .command('diff')
    .description("what a run changed: its best against its base, or one experiment's own change against its parent")
    .argument('<run>', 'the run id')
    .argument('[experiment]', 'an experiment id instead of the best, e.g. e0003')
    .addOption(experimentsOption())
    .option('--stat', 'only the files and line counts')
    .option('--json', 'print JSON')
    .action(async (runId: string, experiment: string | undefined, o: { experiments?: string; stat?: boolean; json?: boolean }) => {
      const { root } = await locateRun(runId, runsWhere(o));
      const result = await diffRun({ experimentsRoot: root, runId, ...(experiment === undefined ? {} : { experiment }), stat: o.stat === true });
      if (o.json) return printJson(result);
      out(result.note ?? (o.stat ? result.stat || '(no changes)' : result.patch || '(no changes)'));
    });
}
