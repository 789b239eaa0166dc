import type { Command } from 'commander';
import { listRuns, showExperiment, showRun, type ExperimentDetail, type RunTable } from '../../app/inspect.js';
import { chooseRun } from '../../app/runs.js';
import type { HoldoutResult } from '../../domain/decision.js';
import { formatGain, formatMetric } from '../../plan/decide.js';
import { formatChange } from '../../plan/holdout-decision.js';
import { clip } from '../../view/plain.js';
import { formatSummary } from '../../view/summary.js';
import { out, printJson } from '../output.js';
import { experimentsOption, runsWhere } from './common.js';

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  ')).join('\n');
}

export function formatRunTable(t: RunTable): string {
  // A run with a holdout shows its figures in a column of their own; other runs look as before.
  const holdout = t.rows.some((r) => r.holdout !== undefined);
  const holdoutCell = (r: RunTable['rows'][number]): string[] =>
    !holdout ? [] : [r.holdout === undefined ? '' : `${formatMetric(r.holdout)}${r.holdoutChange === undefined ? '' : ` (${formatChange(r.holdoutChange)})`}`];
  const rows = [
    ['exp', 'verdict', t.summary.metric ?? 'metric', 'gain', ...(holdout ? ['holdout'] : []), 'commit', 'secs', 'description / reason'],
    ...t.rows.map((r) => [
      r.experiment,
      r.verdict,
      r.metric === undefined ? '-' : formatMetric(r.metric),
      r.experiment === 'e0000' || r.gain === undefined ? '' : formatGain(r.gain),
      ...holdoutCell(r),
      r.commit?.slice(0, 7) ?? '',
      r.durationS === undefined ? '' : r.durationS.toFixed(0),
      clip(r.verdict === 'keep' || r.verdict === 'discard' ? r.description : `${r.description} — ${r.reason}`, 80),
    ]),
    ...t.inFlight.map((f) => [f.experiment, `(${f.phase})`, '', '', ...(holdout ? [''] : []), '', '', clip(f.description, 80)]),
  ];
  return `${formatSummary(t.summary)}\n\n${table(rows)}`;
}

function section(title: string, body: string): string {
  return body.trim() === '' ? '' : `\n--- ${title} ---\n${body.trimEnd()}\n`;
}

export function formatExperiment(d: ExperimentDetail): string {
  const r = d.result ?? {};
  const field = (k: string): string => {
    const v = r[k];
    return v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
  };
  const head = [
    `${d.experiment}  ${field('verdict')}  ${field('reason')}`,
    `  description ${field('description')}`,
    ...(r.hypothesis === undefined ? [] : [`  hypothesis  ${field('hypothesis')}`]),
    ...(r.agentState === undefined ? [] : [`  agent state ${field('agentState')}`]),
    `  commit      ${field('commit')}   parent ${field('parent')}`,
    `  metric      ${field('metric')}   delta ${field('delta')}   gain ${typeof r.gain === 'number' ? formatGain(r.gain) : '-'}`,
    ...(r.stats === undefined ? [] : [`  stats       ${field('stats')}`]),
    ...(r.holdout === undefined ? [] : [`  holdout     ${holdoutLine(r.holdout)}`]),
    ...(r.usage === undefined ? [] : [`  usage       ${field('usage')}`]),
    `  folder      ${d.dir}`,
  ];
  return [head.join('\n'), section('patch.diff', d.patchTruncated === undefined ? d.patch : `${d.patch}\n[… ${d.patchTruncated.note}]`), section('setup.log (tail)', d.logs.setup), section('checks.log (tail)', d.logs.checks), section('bench.log (tail)', d.logs.bench), section('holdout.log (tail)', d.logs.holdout), section('agent.log (tail)', d.logs.agent)].join('');
}

/** `cost 1.283 (parent 1.234, +4.0%): no_regress held` from result.json's `holdout`. */
function holdoutLine(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const h = value as Partial<HoldoutResult>;
  return `${h.reason ?? '-'}: ${h.rule ?? '?'} ${h.passed === true ? 'held' : 'failed'}`;
}

export function registerInspect(program: Command): void {
  program
    .command('ls')
    .description('list runs, newest first')
    .addOption(experimentsOption())
    .option('--json', 'print JSON')
    .action(async (o: { experiments?: string; json?: boolean }) => {
      const { runs, where } = await listRuns(runsWhere(o));
      if (o.json) return printJson(runs);
      if (runs.length === 0) return out(`no runs in ${where}`);
      out(
        table([
          ['run', 'status', 'experiments', 'baseline', 'best', 'gain', 'kept'],
          ...runs.map((r) => [
            r.runId,
            r.stopped ? `stopped (${r.stopped.reason})` : r.status,
            String(r.experiments),
            r.baseline === undefined ? '-' : formatMetric(r.baseline),
            r.best === undefined ? '-' : formatMetric(r.best.metric),
            formatGain(r.gain),
            String(r.counts.keep),
          ]),
        ]),
      );
    });

  program
    .command('show')
    .description('a run as a table, or one experiment with its diff and log tails')
    .argument('[run]', 'the run id (default: the latest)')
    .argument('[experiment]', 'an experiment id, e.g. e0003')
    .addOption(experimentsOption())
    .option('--json', 'print JSON')
    .action(async (runArg: string | undefined, exp: string | undefined, o: { experiments?: string; json?: boolean }) => {
      const { runId, root } = await chooseRun(runArg, runsWhere(o));
      if (exp === undefined) {
        const t = await showRun(root, runId);
        return o.json ? printJson(t) : out(formatRunTable(t));
      }
      const d = await showExperiment(root, runId, exp);
      return o.json ? printJson(d) : out(formatExperiment(d));
    });
}
