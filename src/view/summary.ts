/** The end-of-run summary: data first (for --json), then text. */
import { calibrationWarning, describeCalibration } from '../plan/calibration.js';
import type { Calibration } from '../domain/run-state.js';
import { formatGain, formatMetric } from '../plan/decide.js';
import { VERDICTS, type Verdict } from '../domain/words.js';
import { bestGain, finishedExperiments, totalCostUsd, verdictCounts } from '../plan/fold.js';
import type { RunState } from '../domain/run-state.js';
import { shellWord } from '../util/shell.js';

export interface RunSummary {
  runId: string;
  runDir: string;
  target: string | undefined;
  metric: string | undefined;
  goal: string | undefined;
  baseline: number | undefined;
  best: { experiment: string; commit: string; metric: number } | undefined;
  gain: number | undefined;
  experiments: number;
  counts: Record<Verdict, number>;
  costUsd: number;
  stopped: { reason: string; detail: string } | undefined;
  bestRef: string;
  /** How the baseline's calibration runs set the measuring of candidates, once they ran. */
  calibration: Calibration | undefined;
  holdoutCalibration: Calibration | undefined;
}

export function summarize(state: RunState, runDir: string): RunSummary {
  return {
    runId: state.runId,
    runDir,
    target: state.started?.target,
    metric: state.started?.metric,
    goal: state.started?.goal,
    baseline: state.baseline?.metric,
    best: state.best ? { experiment: state.best.exp, commit: state.best.commit, metric: state.best.metric } : undefined,
    gain: bestGain(state),
    experiments: finishedExperiments(state).filter((e) => e.id !== 'e0000').length,
    counts: verdictCounts(state),
    costUsd: totalCostUsd(state),
    stopped: state.stopped ? { reason: state.stopped.reason, detail: state.stopped.detail } : undefined,
    bestRef: `ratchet/${state.runId}/best`,
    calibration: state.calibration,
    holdoutCalibration: state.holdoutCalibration,
  };
}

export function formatSummary(s: RunSummary): string {
  const counts = VERDICTS.filter((v) => s.counts[v] > 0).map((v) => `${v} ${s.counts[v]}`).join(', ') || 'none';
  const lines = [
    `run ${s.runId}${s.stopped ? ` stopped (${s.stopped.reason}): ${s.stopped.detail}` : ''}`,
    `  ${s.goal ?? ''} ${s.metric ?? ''}`.trimEnd(),
    `  baseline   ${s.baseline === undefined ? '-' : formatMetric(s.baseline)}`,
    `  best       ${s.best ? `${formatMetric(s.best.metric)} (${s.best.experiment}, ${s.best.commit.slice(0, 7)}, branch ${s.bestRef})` : '-'}`,
    `  gain       ${formatGain(s.gain)}`,
    `  experiments ${s.experiments}: ${counts}`,
  ];
  for (const [stage, c] of [['bench', s.calibration], ['holdout', s.holdoutCalibration]] as const) {
    if (c === undefined) continue;
    lines.push(`  ${stage === 'bench' ? 'measured  ' : 'holdout   '} ${describeCalibration(c).replace(/^calibration: /, '')}`);
    const warning = calibrationWarning(c, stage);
    if (warning !== undefined) lines.push(`  warning    ${warning}`);
  }
  if (s.costUsd > 0) lines.push(`  cost       $${s.costUsd.toFixed(2)}`);
  lines.push(`  run folder ${s.runDir}`);
  // Commands that work from any folder: the run id is found wherever the run folder is, and git is pointed at the target.
  const log = s.target === undefined ? `git log --oneline ${s.bestRef}` : `git -C ${shellWord(s.target)} log --oneline ${s.bestRef}`;
  lines.push(`  look:      ratchet show ${s.runId}`);
  lines.push(`  harvest:   ${log}, or as a branch: ratchet pick ${s.runId}`);
  return lines.join('\n');
}
