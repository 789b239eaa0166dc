/** A run as harvesting sees it: its info, state, repository, and the changes it kept. */
import { UserError } from '../domain/errors.js';
import type { ExperimentId } from '../domain/words.js';
import { readRunEvents, readRunInfo, runDir, type RunInfo } from '../store/run-dir.js';
import { finishedExperiments, foldEvents } from '../plan/fold.js';
import type { RunState } from '../domain/run-state.js';
import { openRepo, type Repo } from './harvest-git.js';

export interface KeptChange {
  experiment: ExperimentId;
  commit: string;
  description: string;
  /** Gain over the best it was measured against, positive when better. */
  gain: number | undefined;
  metric: number | undefined;
}

export interface HarvestRun {
  info: RunInfo;
  state: RunState;
  repo: Repo;
  /** Every kept change after the baseline, in run order. */
  kept: KeptChange[];
}

export async function loadHarvest(experimentsRoot: string, runId: string): Promise<HarvestRun> {
  const dir = runDir(experimentsRoot, runId);
  const info = await readRunInfo(dir);
  const state = foldEvents(runId, await readRunEvents(dir));
  const kept = finishedExperiments(state)
    .filter((e) => e.id !== 'e0000' && e.finished?.verdict === 'keep' && e.finished.commit !== undefined)
    .map((e) => ({ experiment: e.id, commit: e.finished!.commit!, description: e.finished!.description, gain: e.finished!.gain, metric: e.finished!.metric }));
  return { info, state, repo: await openRepo(info.target), kept };
}

/** The kept changes asked for (all when none is named), in run order; names every one that is not kept. */
export function chooseKept(run: HarvestRun, wanted: readonly string[]): KeptChange[] {
  if (run.kept.length === 0) throw new UserError(`run ${run.info.runId} kept no change; there is nothing to pick`, { hint: `see its results with: ratchet show ${run.info.runId}` });
  if (wanted.length === 0) return run.kept;
  const problems = [...new Set(wanted)].flatMap((id) => {
    if (run.kept.some((k) => k.experiment === id)) return [];
    const e = run.state.experiments.get(id);
    if (e === undefined) return [`${id} (no such experiment)`];
    if (id === 'e0000') return ['e0000 (the baseline: the base commit itself)'];
    return [`${id} (${e.finished ? e.finished.verdict : 'not finished'})`];
  });
  if (problems.length > 0) {
    throw new UserError(`not kept in run ${run.info.runId}: ${problems.join(', ')}`, { hint: `the kept ones are ${run.kept.map((k) => k.experiment).join(', ')}` });
  }
  return run.kept.filter((k) => wanted.includes(k.experiment));
}
