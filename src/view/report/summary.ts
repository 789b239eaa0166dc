/**
 * The run as a markdown summary: baseline, best, gain, counts by verdict, the kept changes in
 * order with their gains, cost and duration. Pure, so `report` and any other caller agree.
 */
import { VERDICTS } from '../../domain/words.js';
import { formatGain, formatMetric } from '../../plan/decide.js';
import type { RunInfo } from '../../store/run-dir.js';
import { bestGain, finishedExperiments, totalCostUsd, unfinishedExperiments, verdictCounts } from '../../plan/fold.js';
import type { RunState } from '../../domain/run-state.js';
import { chartMetric } from '../chart/progress-data.js';

export interface SummaryOptions {
  /** Link to the chart image, relative to where the markdown is written. */
  chartHref?: string;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

export function formatUsd(usd: number): string {
  return `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)}`;
}

/** Wall-clock time from the first event to the last (or to the stop). */
export function runDurationS(state: RunState): number | undefined {
  const start = state.started?.t;
  const end = state.stopped?.t ?? state.lastEventAt;
  if (start === undefined || end === undefined) return undefined;
  return (Date.parse(end) - Date.parse(start)) / 1000;
}

function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
}

function objectiveQuote(objective: string): string[] {
  const paragraph = objective.trim().split(/\n\s*\n/)[0] ?? '';
  if (paragraph === '') return [];
  const short = paragraph.length > 400 ? `${paragraph.slice(0, 399)}…` : paragraph;
  return [...short.split('\n').map((l) => `> ${l}`.trimEnd()), ''];
}

function statusLine(state: RunState): string {
  if (state.stopped) return `- status: stopped (${state.stopped.reason}${state.stopped.detail ? `: ${state.stopped.detail}` : ''})`;
  const inFlight = unfinishedExperiments(state).map((e) => e.id);
  return `- status: running${inFlight.length > 0 ? ` (in flight: ${inFlight.join(', ')})` : ''}`;
}

function costLine(state: RunState): string {
  let input = 0;
  let output = 0;
  let any = false;
  for (const e of state.experiments.values()) {
    if (e.usage === undefined) continue;
    any = true;
    input += e.usage.inputTokens;
    output += e.usage.outputTokens;
  }
  if (!any) return '- cost: none recorded';
  const tokens = `${input.toLocaleString('en-US')} input and ${output.toLocaleString('en-US')} output tokens`;
  return `- cost: ${formatUsd(totalCostUsd(state))} (${tokens})`;
}

export function renderReportMarkdown(state: RunState, info: RunInfo | undefined, options: SummaryOptions = {}): string {
  const { metric, goal } = chartMetric(state, info);
  const runId = info?.runId ?? state.runId;
  const lines: string[] = [`# ratchet run ${runId}`, '', ...objectiveQuote(info?.objective ?? '')];

  if (info) lines.push(`- target: ${info.target} (base ${info.base.slice(0, 7)}${info.baseRef ? `, ${info.baseRef}` : ''})`);
  lines.push(`- metric: ${metric}, ${goal === 'minimize' ? 'lower' : 'higher'} is better`);
  lines.push(statusLine(state));
  lines.push(state.baseline ? `- baseline: ${formatMetric(state.baseline.metric)} (e0000)` : '- baseline: not measured');
  if (state.best) {
    lines.push(`- best: ${formatMetric(state.best.metric)} (${state.best.exp}, commit ${state.best.commit.slice(0, 7)}, branch ratchet/${runId}/best)`);
  }
  const gain = bestGain(state);
  if (gain !== undefined) lines.push(`- gain: ${formatGain(gain)} over the baseline`);

  const counts = verdictCounts(state);
  const total = VERDICTS.reduce((sum, v) => sum + counts[v], 0);
  const byVerdict = VERDICTS.filter((v) => counts[v] > 0).map((v) => `${counts[v]} ${v}`);
  lines.push(`- experiments: ${total}${byVerdict.length > 0 ? ` (${byVerdict.join(', ')})` : ''}`);
  lines.push(costLine(state));
  const wall = runDurationS(state);
  const evaluation = finishedExperiments(state).reduce((sum, e) => sum + (e.finished?.durationS ?? 0), 0);
  if (wall !== undefined) lines.push(`- duration: ${formatDuration(wall)} (experiments took ${formatDuration(evaluation)} in all)`);

  lines.push('', '## Kept changes', '');
  const kept = finishedExperiments(state).filter((e) => e.id !== 'e0000' && e.finished?.verdict === 'keep');
  if (kept.length === 0) {
    lines.push('None yet.');
  } else {
    lines.push(`| # | experiment | description | ${cell(metric)} | gain | vs baseline |`, '| ---: | --- | --- | ---: | ---: | ---: |');
    kept.forEach((e, i) => {
      const f = e.finished!;
      const value = f.metric === undefined ? '' : formatMetric(f.metric);
      const overall = f.metric !== undefined && state.baseline && state.baseline.metric !== 0
        ? formatGain(((goal === 'minimize' ? -1 : 1) * (f.metric - state.baseline.metric)) / Math.abs(state.baseline.metric))
        : '';
      lines.push(`| ${i + 1} | ${e.id} | ${cell(f.description)} | ${value} | ${formatGain(f.gain)} | ${overall} |`);
    });
  }
  if (options.chartHref !== undefined) lines.push('', `![progress](${options.chartHref.replace(/ /g, '%20')})`);
  return `${lines.join('\n')}\n`;
}
