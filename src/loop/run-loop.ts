/**
 * The loop: measure the baseline, then propose → gate → evaluate → decide → record until a
 * budget, the agent or a signal stops it. It talks only to interfaces (RunContext); it writes
 * nothing but events and experiment files through the store.
 */
import { setMaxListeners } from 'node:events';
import { checkBudget, type Stop } from '../plan/budget.js';
import { calibrate, calibratedSpec, calibrateHoldout, calibrationSeeds } from '../plan/calibration.js';
import { isAbortError } from '../domain/errors.js';
import { evaluateAndDecide, holdoutFields } from './evaluate.js';
import { runExperiment, type ExperimentOutcome } from './experiment.js';
import { type Shared } from './merge.js';
import { Mutex } from './mutex.js';
import { freeSlots, selectParent } from '../plan/parallel.js';
import { recordFinished } from './record.js';
import { refs } from '../domain/refs.js';
import type { RunContext } from './run-context.js';
import { experimentId, type ExperimentId } from '../domain/words.js';
import { unfinishedExperiments } from '../plan/fold.js';

export interface LoopOptions {
  /** When this session of the run started (the duration budget counts from it); else when the loop starts. */
  startedAt?: number;
}

/** The baseline, `e0000`: the base commit measured like any candidate. */
async function measureBaseline(run: RunContext, signal: AbortSignal): Promise<Stop | undefined> {
  const exp: ExperimentId = 'e0000';
  const r = refs(run.runId);
  const started = run.now();
  await run.store.append({ type: 'experiment_started', exp, parent: run.baseCommit, parentExp: exp });
  await run.workspace.updateRef(r.experiment(exp), run.baseCommit);
  if ((await run.workspace.readRef(r.best)) === undefined) await run.workspace.updateRef(r.best, run.baseCommit);
  await run.store.append({ type: 'proposed', exp, description: 'baseline' });
  // No worktree here: the workers check the base commit out in their own.
  try {
    const seeds = calibrationSeeds(run.runId);
    const { evaluation, decision, holdout } = await evaluateAndDecide(run, exp, run.baseCommit, { commit: run.baseCommit, metric: Number.NaN, paired: false }, signal, seeds);
    const m = evaluation.measurement;
    if (evaluation.status === 'ok' && m !== undefined) {
      const values = m.samples.filter((s) => s.side === 'candidate').map((s) => s.metric);
      const calibration = calibrate(run.spec.bench, seeds.slice(0, values.length), values);
      await run.store.append({ type: 'calibrated', exp, ...calibration });
      await run.store.recordCalibration(calibration);
    }
    // The holdout ran once per calibration seed too (on the baseline, as every stage of it).
    if (run.spec.holdout !== undefined && holdout?.values !== undefined && holdout.values.length > 0) {
      const calibration = calibrateHoldout(run.spec.holdout, seeds.slice(0, holdout.values.length), holdout.values);
      await run.store.append({ type: 'calibrated', exp, stage: 'holdout', ...calibration });
      await run.store.recordCalibration(calibration, 'holdout');
    }
    applyCalibration(run);
    // With a holdout, the baseline's holdout value is what the first keep is compared with.
    const holdoutFailed = holdout !== undefined && decision.verdict !== 'keep';
    const ok = evaluation.status === 'ok' && m !== undefined && !holdoutFailed;
    const why = holdoutFailed ? decision.reason.replace(/^baseline; but /, '') : evaluation.reason;
    await recordFinished(run, {
      experiment: exp,
      verdict: ok ? 'keep' : holdoutFailed ? decision.verdict : evaluation.status === 'ok' ? 'crash' : evaluation.status,
      reason: ok ? 'baseline' : why,
      description: 'baseline',
      commit: run.baseCommit,
      parent: run.baseCommit,
      secondary: m?.secondary ?? {},
      ...(m ? { metric: m.metric, samples: m.samples } : {}),
      ...holdoutFields(holdout),
      stages: [...evaluation.stages, ...(holdout?.stages ?? [])],
      ...(evaluation.failureTail ? { failureTail: evaluation.failureTail } : {}),
      durationS: Math.round((run.now() - started) / 100) / 10,
    });
    if (!ok) return { reason: 'error', detail: `the baseline failed: ${why}; fix the target or its spec so the base commit passes` };
    const kept = holdout?.holdout === undefined ? {} : { holdout: holdout.holdout.metric };
    await run.store.append({ type: 'best_advanced', exp, commit: run.baseCommit, metric: m.metric, ...kept });
    return undefined;
  } catch (error) {
    if (isAbortError(error) || signal.aborted) {
      await run.store.append({ type: 'experiment_cancelled', exp, reason: 'interrupted' });
      return { reason: 'signal', detail: 'interrupted while measuring the baseline' };
    }
    throw error;
  }
}

/** Experiments cut off by a crash or a signal get no verdict; their patch is re-proposed. */
async function cancelUnfinished(run: RunContext): Promise<void> {
  for (const e of unfinishedExperiments(run.store.getState())) {
    await run.store.append({ type: 'experiment_cancelled', exp: e.id, reason: 'interrupted in an earlier session' });
  }
}

/**
 * The events are the truth: a crash between moving the best branch and recording the keep
 * leaves the branch ahead of the log, and the experiment is proposed again from the recorded best.
 */
async function alignBestRef(run: RunContext): Promise<void> {
  const best = run.store.getState().best;
  if (best === undefined) return;
  const ref = refs(run.runId).best;
  if ((await run.workspace.readRef(ref)) !== best.commit) await run.workspace.updateRef(ref, best.commit);
}

/** Every candidate is measured the way the baseline's calibration decided (a resumed run included). */
function applyCalibration(run: RunContext): void {
  run.spec = calibratedSpec(run.spec, run.store.getState());
}

export async function runLoop(run: RunContext, signal: AbortSignal, options: LoopOptions = {}): Promise<Stop> {
  const startedAt = options.startedAt ?? run.now();
  const shared: Shared = { merge: new Mutex() };
  await cancelUnfinished(run);
  await alignBestRef(run);
  applyCalibration(run);
  if (run.store.getState().best === undefined) {
    const stop = await measureBaseline(run, signal);
    if (stop) return stop;
  }
  return await schedule(run, shared, signal, startedAt);
}

type Landed = { exp: ExperimentId; outcome: ExperimentOutcome } | { exp: ExperimentId; error: unknown };

/**
 * Keeps `agent.parallel` experiments in flight, each started from the best as it stands, while
 * the budget (counting what is in flight) allows; then lets those in flight land. An error in
 * one (a bug, a store that cannot write) stops the others, and is thrown once they have ended.
 */
async function schedule(run: RunContext, shared: Shared, outer: AbortSignal, startedAt: number): Promise<Stop> {
  const parallel = Math.max(1, run.spec.agent.parallel);
  const stopAll = new AbortController();
  // Every experiment in flight listens on it (its proposer, its queue wait, its processes).
  setMaxListeners(Math.max(10, parallel * 10), stopAll.signal);
  const abort = (): void => stopAll.abort(outer.reason);
  if (outer.aborted) abort();
  else outer.addEventListener('abort', abort, { once: true });
  const signal = stopAll.signal;
  const flying = new Map<ExperimentId, Promise<Landed>>();
  const interrupted: ExperimentId[] = [];
  let next = run.store.getState().lastExperimentNumber + 1;
  let ending: Stop | undefined;
  let failure: { error: unknown } | undefined;
  try {
    for (;;) {
      while (ending === undefined && failure === undefined && freeSlots(parallel, flying.size) > 0) {
        if (signal.aborted) break;
        const state = run.store.getState();
        const stop = checkBudget(state, run.spec, run.now() - startedAt, flying.size);
        if (stop) {
          if (flying.size === 0) return stop;
          break;
        }
        const parent = selectParent(state)!;
        const exp = experimentId(next++);
        // Recorded before the next one starts, so each proposal sees those started before it.
        await run.store.append({ type: 'experiment_started', exp, parent: parent.commit, parentExp: parent.exp });
        const landed = runExperiment(run, exp, parent, shared, signal).then(
          (outcome): Landed => ({ exp, outcome }),
          (error: unknown): Landed => ({ exp, error }),
        );
        flying.set(exp, landed);
      }
      if (flying.size === 0) break;
      const landed = await Promise.race(flying.values());
      flying.delete(landed.exp);
      if ('error' in landed) {
        failure ??= { error: landed.error };
        stopAll.abort(landed.error);
      } else if (landed.outcome.kind === 'exhausted') {
        ending ??= { reason: 'exhausted', detail: landed.outcome.reason };
      } else if (landed.outcome.kind === 'interrupted') {
        interrupted.push(landed.exp);
      }
    }
  } finally {
    outer.removeEventListener('abort', abort);
  }
  if (failure !== undefined) throw failure.error;
  if (ending !== undefined) return ending;
  if (interrupted.length > 0) return { reason: 'signal', detail: `interrupted during ${interrupted.sort().join(', ')}` };
  return { reason: 'signal', detail: 'interrupted' };
}
