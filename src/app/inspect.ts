/** `ratchet ls` and `ratchet show`: read-only views of run folders, returned as data. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { EXPERIMENT_ID, type ExperimentId } from '../domain/words.js';
import { readRunEvents, readRunInfo, readTail, runDir } from '../store/run-dir.js';
import { runCatalog, type RunsWhere } from './runs.js';
import { finishedExperiments, foldEvents, unfinishedExperiments } from '../plan/fold.js';
import type { RunState } from '../domain/run-state.js';
import { readPatchPreview } from '../view/patch-preview.js';
import { summarize, type RunSummary } from '../view/summary.js';

export interface RunListing extends RunSummary {
  createdAt: string;
  status: 'running or crashed' | 'stopped';
}

export async function loadRunState(root: string, runId: string): Promise<{ state: RunState; dir: string }> {
  const dir = runDir(root, runId);
  const events = await readRunEvents(dir);
  return { state: foldEvents(runId, events), dir };
}

/** Every run where `where` says, newest first; `where` names what was looked through. */
export async function listRuns(where: RunsWhere = {}): Promise<{ runs: RunListing[]; where: string }> {
  const catalog = runCatalog(where);
  const runs: RunListing[] = [];
  for (const { runId, dir } of await catalog.list()) {
    // A folder being created (run.json before events.jsonl) or written by a newer ratchet is
    // not listed, rather than ending the listing of every other run; `show` says what is wrong.
    const read = await Promise.all([readRunEvents(dir), readRunInfo(dir)]).catch((error: unknown) => {
      if (error instanceof UserError) return undefined;
      throw error;
    });
    if (read === undefined) continue;
    const [events, info] = read;
    const state = foldEvents(runId, events);
    runs.push({ ...summarize(state, dir), createdAt: info.createdAt, status: state.stopped ? 'stopped' : 'running or crashed' });
  }
  return { runs, where: catalog.where };
}

export interface ResultRow {
  experiment: ExperimentId;
  verdict: string;
  metric: number | undefined;
  gain: number | undefined;
  commit: string | undefined;
  durationS: number | undefined;
  description: string;
  reason: string;
  /** The holdout's value and its change against the parent's, when it ran (keeps, overfits). */
  holdout: number | undefined;
  holdoutChange: number | undefined;
}

export interface RunTable {
  summary: RunSummary;
  rows: ResultRow[];
  inFlight: { experiment: ExperimentId; phase: string; description: string }[];
}

/** The rows of `show`'s table: every finished experiment, oldest first. */
export function resultRows(state: RunState): ResultRow[] {
  return finishedExperiments(state).map((e) => ({
    experiment: e.id,
    verdict: e.finished!.verdict,
    metric: e.finished!.metric,
    gain: e.finished!.gain,
    commit: e.finished!.commit,
    durationS: e.finished!.durationS,
    description: e.finished!.description,
    reason: e.finished!.reason,
    holdout: e.finished!.holdout?.metric,
    holdoutChange: e.finished!.holdout?.change,
  }));
}

export async function showRun(root: string, runId: string): Promise<RunTable> {
  const { state, dir } = await loadRunState(root, runId);
  const rows = resultRows(state);
  const inFlight = unfinishedExperiments(state).map((e) => ({ experiment: e.id, phase: e.phase, description: e.description }));
  return { summary: summarize(state, dir), rows, inFlight };
}

export interface ExperimentDetail {
  experiment: ExperimentId;
  dir: string;
  result: Record<string, unknown> | undefined;
  /** The start of patch.diff, at most PATCH_PREVIEW_LIMITS of it. */
  patch: string;
  /** When patch.diff is longer than what `patch` holds: how much, and where it is. */
  patchTruncated: { note: string; totalBytes: number; shownBytes: number; path: string } | undefined;
  logs: Record<'setup' | 'checks' | 'bench' | 'holdout' | 'agent', string>;
}

export async function showExperiment(root: string, runId: string, exp: string, tailBytes = 2000): Promise<ExperimentDetail> {
  if (!EXPERIMENT_ID.test(exp)) throw new UserError(`"${exp}" is not an experiment id`, { hint: 'experiment ids look like e0003; see them with: ratchet show <run>' });
  const { state, dir } = await loadRunState(root, runId);
  if (!state.experiments.has(exp)) throw new UserError(`run ${runId} has no experiment ${exp}`, { hint: `see its experiments with: ratchet show ${runId}` });
  const edir = join(dir, exp);
  let result: Record<string, unknown> | undefined;
  try {
    result = JSON.parse(await readFile(join(edir, 'result.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    result = undefined;
  }
  const patch = await readPatchPreview(join(edir, 'patch.diff'));
  return {
    experiment: exp,
    dir: edir,
    result,
    patch: patch.text,
    patchTruncated: patch.note === undefined ? undefined : { note: patch.note, totalBytes: patch.totalBytes, shownBytes: patch.shownBytes, path: patch.path },
    logs: {
      setup: await readTail(join(edir, 'setup.log'), tailBytes),
      checks: await readTail(join(edir, 'checks.log'), tailBytes),
      bench: await readTail(join(edir, 'bench.log'), tailBytes),
      holdout: await readTail(join(edir, 'holdout.log'), tailBytes),
      agent: await readTail(join(edir, 'agent.log'), tailBytes),
    },
  };
}
