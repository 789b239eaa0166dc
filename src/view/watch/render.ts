/**
 * The live view of a run as lines of text: a pure function of the state, the run's info and
 * the clock, so the terminal driver only has to put the lines on the screen.
 */
import { calibratedSpec, calibrationFinding, calibrationMode, calibrationSeeds, calibrationWarning } from '../../plan/calibration.js';
import { formatGain, formatMetric } from '../../plan/decide.js';
import { formatDuration } from '../../domain/duration.js';
import type { RunInfo } from '../../store/run-dir.js';
import { bestGain, finishedExperiments, totalCostUsd, unfinishedExperiments, verdictCounts } from '../../plan/fold.js';
import type { ExperimentState, RunState } from '../../domain/run-state.js';
import { experimentsDone } from '../../plan/budget.js';
import { benchPlan, holdoutBench } from '../../plan/bench-plan.js';
import { BASELINE } from '../../domain/words.js';
import type { StageKind } from '../../domain/evaluation.js';
import { activeMs, buildTimeline, median, sessionMs, type Timeline } from './timeline.js';

/** How many finished experiments the view lists. */
export const LAST_RESULTS = 10;

/** A line cut to the terminal's width, on one line. */
export function fit(text: string, width: number): string {
  const one = text.replace(/[\r\n\t]+/g, ' ');
  return one.length > width ? `${one.slice(0, Math.max(0, width - 1))}…` : one;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);
}

function signed(value: number): string {
  return `${value > 0 ? '+' : ''}${formatMetric(value)}`;
}

function money(usd: number): string {
  return `$${usd.toFixed(2)}`;
}

/** Without a timeline, what the state alone tells: one session, no stage times. */
function timelineFromState(state: RunState): Timeline {
  const events = [state.started, state.stopped].filter((e) => e !== undefined);
  return buildTimeline(events);
}

function header(state: RunState, info: RunInfo | undefined, now: number, timeline: Timeline): string[] {
  const status = state.stopped ? `stopped (${state.stopped.reason}): ${state.stopped.detail}` : 'running';
  const elapsed = activeMs(timeline, now);
  const started = state.started;
  const target = info?.target ?? started?.target ?? '?';
  const agent = info?.spec.agent.kind ?? started?.agent;
  const metric = info?.spec.bench.metric.name ?? started?.metric ?? 'metric';
  const goal = info?.spec.bench.metric.goal ?? started?.goal ?? '';
  const baseline = state.baseline ? formatMetric(state.baseline.metric) : '-';
  const best = state.best ? `${formatMetric(state.best.metric)} (${state.best.exp})` : '-';
  const gain = bestGain(state);
  const done = experimentsDone(state);
  const kept = verdictCounts(state).keep;
  const hours = elapsed / 3_600_000;
  const rate = elapsed >= 60_000 ? `${(done / hours).toFixed(1)}/h` : '-/h';
  return [
    `ratchet ${state.runId} · ${status} · ${formatDuration(elapsed)}`,
    `target   ${target}${agent === undefined ? '' : `  (agent ${agent})`}`,
    `metric   ${metric}, ${goal}: baseline ${baseline} → best ${best}${gain === undefined ? '' : `  ${formatGain(gain)}`}`,
    `done     ${done} experiments · ${kept} kept · ${rate} · cost ${money(totalCostUsd(state))}`,
    `budget   ${budgetLeft(state, info, now, timeline)}`,
    ...(state.calibration === undefined ? [] : [`measure  ${calibrationFinding(state.calibration)} → ${calibrationMode(state.calibration)}${calibrationWarning(state.calibration) === undefined ? '' : ' (repeat 1: see the warning in the log)'}`]),
  ];
}

function budgetLeft(state: RunState, info: RunInfo | undefined, now: number, timeline: Timeline): string {
  if (info === undefined) return 'unknown (no run.json)';
  const budget = info.spec.budget;
  const parts: string[] = [];
  if (budget.experiments !== undefined) {
    parts.push(`${Math.max(0, budget.experiments - experimentsDone(state))} of ${budget.experiments} experiments left`);
  }
  // The time budget counts per session (a resume starts the clock again).
  if (budget.duration !== undefined) {
    parts.push(`${formatDuration(Math.max(0, budget.duration - sessionMs(timeline, now)))} of ${formatDuration(budget.duration)} left`);
  }
  if (budget.usd !== undefined) parts.push(`${money(Math.max(0, budget.usd - totalCostUsd(state)))} of ${money(budget.usd)} left`);
  parts.push(`stops after ${budget.consecutive_failures} failures in a row`);
  return parts.join(' · ');
}

/** The longest a stage may take by the spec: a bound, not an estimate. */
function stageLimitMs(info: RunInfo, exp: string, stage: StageKind): number {
  const spec = info.spec;
  // The baseline runs once per calibration seed, whatever the spec's repeat.
  const seeds = exp === BASELINE ? calibrationSeeds(info.runId) : undefined;
  if (stage === 'setup') return spec.setup_timeout;
  if (stage === 'checks') return spec.checks.reduce((sum, c) => sum + c.timeout, 0);
  if (stage === 'holdout') {
    const holdout = spec.holdout;
    if (holdout === undefined) return 0;
    const plan = benchPlan(holdoutBench(holdout), { parent: exp !== BASELINE, seeds });
    return holdout.timeout * plan.maxRounds * (plan.paired ? 2 : 1);
  }
  const bench = spec.bench;
  // Candidates after the baseline alternate with their parent when paired, and may be extended to the cap.
  const plan = benchPlan(bench, { parent: exp !== BASELINE, seeds });
  return bench.timeout * (plan.paired ? 2 : 1) * (plan.maxRounds + bench.warmup);
}

interface Progress {
  fraction: number | undefined;
  label: string;
}

/**
 * How far along a stage is. Against the median of earlier passing runs of the same stage when
 * there are some (a guess: this candidate may be slower), else against the spec's limits (an
 * upper bound: most stages end well before).
 */
export function stageProgress(stage: StageKind, exp: string, elapsedMs: number, info: RunInfo | undefined, timeline: Timeline): Progress {
  const earlier = timeline.durations[stage];
  const typical = median(earlier);
  const elapsed = formatDuration(elapsedMs);
  if (typical !== undefined && typical > 0) {
    const ms = typical * 1000;
    const over = elapsedMs > ms;
    return {
      fraction: Math.min(1, elapsedMs / ms),
      label: over ? `${elapsed}, past the median ${formatDuration(ms)} of ${earlier.length} earlier` : `${elapsed} of ~${formatDuration(ms)} (median of ${earlier.length} earlier)`,
    };
  }
  if (info === undefined) return { fraction: undefined, label: elapsed };
  const limit = stageLimitMs(info, exp, stage);
  if (limit <= 0) return { fraction: undefined, label: elapsed };
  return { fraction: Math.min(1, elapsedMs / limit), label: `${elapsed} of at most ${formatDuration(limit)} (timeouts)` };
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function inFlightLine(e: ExperimentState, info: RunInfo | undefined, now: number, width: number, timeline: Timeline): string {
  const current = timeline.stages.get(e.id);
  // A keep measured on an older best is measured again on the new one (the merge queue).
  const description = `${e.description || '(proposing)'}${e.reappliedFrom === undefined ? '' : ` (re-applied on ${e.parentExp})`}`;
  if (current !== undefined && e.phase === current.stage) {
    const p = stageProgress(current.stage, e.id, now - current.since, info, timeline);
    const barWidth = width >= 110 ? 20 : 10;
    const drawn = p.fraction === undefined ? ' '.repeat(barWidth + 2) : bar(p.fraction, barWidth);
    const pct = p.fraction === undefined ? '    ' : `${String(Math.round(p.fraction * 100)).padStart(3)}%`;
    return `  ${pad(e.id, 6)}${pad(current.stage, 11)}${drawn} ${pct}  ${p.label}  ${description}`;
  }
  // Stage events may be missing (the queue reports none yet): a committed candidate is evaluating.
  const phase = e.phase === 'proposing' && e.commit !== undefined ? 'evaluating' : e.phase;
  const since = formatDuration(Math.max(0, now - Date.parse(e.startedAt)));
  return `  ${pad(e.id, 6)}${pad(phase, 11)}${since} since it started  ${description}`;
}

function resultLine(e: ExperimentState, metricWidth: number): string {
  const f = e.finished!;
  const metric = f.metric === undefined ? '-' : formatMetric(f.metric);
  const delta = e.id === 'e0000' ? 'baseline' : f.delta === undefined ? '' : `${signed(f.delta)}${f.gain === undefined ? '' : ` (${formatGain(f.gain)})`}`;
  const what = f.verdict === 'keep' || f.verdict === 'discard' || e.id === 'e0000' ? f.description : `${f.description} — ${f.reason}`;
  return `  ${pad(e.id, 6)}${pad(f.verdict, 14)}${pad(metric, metricWidth)}${pad(delta, 18)}${what}`;
}

/**
 * The view as lines, each at most `width` long. `timeline` (from the same events) adds stage
 * progress and per-session times; without it the view shows what the state alone knows.
 */
/** run.json's spec keeps `repeat: auto` unresolved: the limits are those of the spec as calibrated. */
function calibratedInfo(info: RunInfo, state: RunState): RunInfo {
  return { ...info, spec: calibratedSpec(info.spec, state) };
}

export function renderWatch(state: RunState, info: RunInfo | undefined, now: number, width: number, timeline?: Timeline): string[] {
  const clock = timeline ?? timelineFromState(state);
  // Below 20 columns nothing is readable; lines are still cut, never wrapped.
  const w = Math.max(20, width);
  const lines = header(state, info, now, clock);
  const flying = unfinishedExperiments(state);
  lines.push('', flying.length === 0 ? 'in flight: none' : `in flight (${flying.length})`);
  const measured = info === undefined ? undefined : calibratedInfo(info, state);
  for (const e of flying) lines.push(inFlightLine(e, measured, now, w, clock));
  const finished = finishedExperiments(state).slice(-LAST_RESULTS);
  lines.push('', finished.length === 0 ? 'results: none yet' : 'last results');
  if (finished.length > 0) {
    const metricName = info?.spec.bench.metric.name ?? state.started?.metric ?? 'metric';
    const metricWidth = Math.max(10, metricName.length + 2, ...finished.map((e) => (e.finished?.metric === undefined ? 1 : formatMetric(e.finished.metric).length + 2)));
    lines.push(`  ${pad('exp', 6)}${pad('verdict', 14)}${pad(metricName, metricWidth)}${pad('delta', 18)}description`);
    for (const e of finished) lines.push(resultLine(e, metricWidth));
  }
  return lines.map((line) => fit(line, w));
}
