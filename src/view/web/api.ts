/**
 * The dashboard's data, read from the run folders on every request: events.jsonl is the source
 * of truth and folding it is cheap, so there is no cache to go stale.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../domain/errors.js';
import { EXPERIMENT_ID, experimentNumber, type ExperimentId, type Verdict } from '../../domain/words.js';
import { calibratedSpec, calibrationFinding, calibrationMode, calibrationWarning } from '../../plan/calibration.js';
import type { Calibration } from '../../domain/run-state.js';
import type { RunCatalog } from '../../store/run-catalog.js';
import { readRunEvents, readRunInfo, type RunInfo } from '../../store/run-dir.js';
import { bestGain, foldEvents, totalCostUsd } from '../../plan/fold.js';
import type { ExperimentState, RunState } from '../../domain/run-state.js';
import { chartMetric, progressData, type ProgressData } from '../chart/progress-data.js';
import { readPatchPreview, type PatchPreview } from '../patch-preview.js';

const RUN_ID = /^[A-Za-z0-9][\w.-]*$/;
const LOG_TAIL_BYTES = 16 * 1024;

/** Not found, or a name that could leave the experiments folder. */
// A UserError like every other bad request; the server answers it with 404 instead of 400.
export class NotFoundError extends UserError {}

export interface RunSummary {
  runId: string;
  target: string;
  metric: string;
  goal: 'minimize' | 'maximize';
  status: 'running' | 'stopped';
  stopped: { reason: string; detail: string } | undefined;
  experiments: number;
  kept: number;
  inFlight: number;
  baseline: number | undefined;
  best: { exp: ExperimentId; metric: number } | undefined;
  gain: number | undefined;
  costUsd: number;
  startedAt: string | undefined;
  lastEventAt: string | undefined;
}

export interface ExperimentRow {
  id: ExperimentId;
  n: number;
  phase: ExperimentState['phase'];
  verdict: Verdict | undefined;
  metric: number | undefined;
  delta: number | undefined;
  gain: number | undefined;
  description: string;
  hypothesis: string | undefined;
  reason: string | undefined;
  /** The holdout's value and change against the parent's, when it ran (keeps and overfits). */
  holdout: number | undefined;
  holdoutChange: number | undefined;
  durationS: number | undefined;
  costUsd: number | undefined;
  commit: string | undefined;
  parentExp: string;
  /** The best it was re-applied on (then `parentExp`), when a newer best made it measure again. */
  reappliedOnto: string | undefined;
  files: string[];
  startedAt: string;
}

export interface RunDetail {
  summary: RunSummary;
  info: { objective: string; base: string; baseRef: string; createdAt: string; agent: string; repeat: number; measured: Measured | undefined };
  experiments: ExperimentRow[];
  progress: ProgressData;
}

/** The baseline's calibration as the dashboard shows it: how candidates are measured, and why. */
export interface Measured {
  /** `one run` or `A/B × 10`. */
  short: string;
  /** The whole mode: `paired A/B runs sharing a seed, repeat 10, min_effect 1.0%, confidence 99.0%`. */
  mode: string;
  /** What the baseline's runs showed: `spread 11.5%, noisy`. */
  finding: string;
  runs: number;
  warning: string | undefined;
}

function measured(c: Calibration | undefined): Measured | undefined {
  if (c === undefined) return undefined;
  return { short: c.mode === 'single' ? 'one run' : `A/B × ${c.repeat}`, mode: calibrationMode(c), finding: calibrationFinding(c), runs: c.runs, warning: calibrationWarning(c) };
}

export interface FileTail {
  text: string;
  /** True when only the end of the file is shown. */
  truncated: boolean;
}

export interface ExperimentDetail {
  row: ExperimentRow;
  /** result.json as written by the loop, or null while the experiment runs. */
  result: unknown;
  /** The start of patch.diff (a diff cut at the end still renders), with a note when cut. */
  diff: PatchPreview;
  logs: { setup: FileTail; checks: FileTail; bench: FileTail; holdout: FileTail; agent: FileTail };
}

export interface LoadedRun {
  dir: string;
  info: RunInfo;
  state: RunState;
}

/** The folder of a run the catalog has; a name that is not a run id is never looked up. */
export async function runFolder(runs: RunCatalog, runId: string): Promise<string> {
  if (!RUN_ID.test(runId) || runId.includes('..')) throw new NotFoundError(`no run named ${JSON.stringify(runId)}`);
  const dir = await runs.find(runId);
  if (dir === undefined) throw new NotFoundError(`no run named ${runId}`);
  return dir;
}

export async function loadRun(runs: RunCatalog, runId: string): Promise<LoadedRun> {
  const dir = await runFolder(runs, runId);
  try {
    const info = await readRunInfo(dir);
    return { dir, info, state: foldEvents(info.runId, await readRunEvents(dir)) };
  } catch (error) {
    if (error instanceof UserError && error.message.startsWith('no run at')) throw new NotFoundError(`no run named ${runId}`);
    throw error;
  }
}

export function summarise({ info, state }: LoadedRun): RunSummary {
  const { metric, goal } = chartMetric(state, info);
  const all = [...state.experiments.values()].filter((e) => e.id !== 'e0000');
  const finished = all.filter((e) => e.finished !== undefined);
  return {
    runId: info.runId,
    target: info.target,
    metric,
    goal,
    status: state.stopped ? 'stopped' : 'running',
    stopped: state.stopped ? { reason: state.stopped.reason, detail: state.stopped.detail } : undefined,
    experiments: finished.length,
    kept: finished.filter((e) => e.finished?.verdict === 'keep').length,
    inFlight: all.length - finished.length,
    baseline: state.baseline?.metric,
    best: state.best ? { exp: state.best.exp, metric: state.best.metric } : undefined,
    gain: bestGain(state),
    costUsd: totalCostUsd(state),
    startedAt: state.started?.t,
    lastEventAt: state.lastEventAt,
  };
}

/** One experiment as the dashboard's table and chart show it, in flight or finished. */
export function experimentRow(e: ExperimentState): ExperimentRow {
  const f = e.finished;
  return {
    id: e.id,
    n: experimentNumber(e.id),
    phase: e.phase,
    verdict: f?.verdict,
    metric: f?.metric,
    delta: f?.delta,
    gain: f?.gain,
    description: e.description,
    hypothesis: e.hypothesis,
    reason: f?.reason,
    holdout: f?.holdout?.metric,
    holdoutChange: f?.holdout?.change,
    durationS: f?.durationS,
    costUsd: e.usage?.costUsd,
    commit: e.commit,
    parentExp: e.parentExp,
    reappliedOnto: e.reappliedFrom === undefined ? undefined : e.parentExp,
    files: e.files,
    startedAt: e.startedAt,
  };
}

export async function listRuns(runs: RunCatalog): Promise<RunSummary[]> {
  const summaries: RunSummary[] = [];
  for (const { runId } of await runs.list()) {
    try {
      summaries.push(summarise(await loadRun(runs, runId)));
    } catch {
      // A run folder being created, or one this version cannot read: left out of the list.
    }
  }
  return summaries;
}

export async function runDetail(runs: RunCatalog, runId: string): Promise<RunDetail> {
  const run = await loadRun(runs, runId);
  const { info, state } = run;
  const agent = info.spec.agent;
  return {
    summary: summarise(run),
    info: {
      objective: info.objective,
      base: info.base,
      baseRef: info.baseRef,
      createdAt: info.createdAt,
      agent: 'model' in agent ? `${agent.kind} (${agent.model})` : agent.kind,
      // repeat: auto is 1 in run.json's spec until the calibration resolves it.
      repeat: calibratedSpec(info.spec, state).bench.repeat,
      measured: measured(state.calibration),
    },
    experiments: [...state.experiments.values()].sort((a, b) => a.id.localeCompare(b.id)).map(experimentRow),
    progress: progressData(state, info),
  };
}

/** The end of a file; a cut first line is dropped so the tail starts on a whole line. */
export async function fileTail(path: string, bytes: number): Promise<FileTail> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { text: '', truncated: false };
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8');
    if (start === 0) return { text, truncated: false };
    const newline = text.indexOf('\n');
    return { text: newline >= 0 ? text.slice(newline + 1) : text, truncated: true };
  } finally {
    await handle.close();
  }
}

async function readResult(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

export async function experimentDetail(runs: RunCatalog, runId: string, exp: string): Promise<ExperimentDetail> {
  if (!EXPERIMENT_ID.test(exp)) throw new NotFoundError(`no experiment named ${JSON.stringify(exp)}`);
  const { dir, state } = await loadRun(runs, runId);
  const e = state.experiments.get(exp);
  if (e === undefined) throw new NotFoundError(`run ${runId} has no experiment ${exp}`);
  const folder = join(dir, exp);
  const [result, diff, setup, checks, bench, holdout, agent] = await Promise.all([
    readResult(join(folder, 'result.json')),
    readPatchPreview(join(folder, 'patch.diff')),
    fileTail(join(folder, 'setup.log'), LOG_TAIL_BYTES),
    fileTail(join(folder, 'checks.log'), LOG_TAIL_BYTES),
    fileTail(join(folder, 'bench.log'), LOG_TAIL_BYTES),
    fileTail(join(folder, 'holdout.log'), LOG_TAIL_BYTES),
    fileTail(join(folder, 'agent.jsonl'), LOG_TAIL_BYTES),
  ]);
  return { row: experimentRow(e), result, diff, logs: { setup, checks, bench, holdout, agent } };
}
