/**
 * The loop: measure the baseline, then propose → gate → evaluate → decide → record until a
 * budget, the agent or a signal stops it. It talks only to interfaces (RunContext); it writes
 * nothing but events and experiment files through the store.
 */
import { checkBudget, type Stop } from '../plan/budget.js';
import { calibrate, calibratedBench, calibratedHoldout, calibrateHoldout, calibrationSeeds } from '../plan/calibration.js';
import { isAbortError } from '../domain/errors.js';
import { evaluateAndDecide, holdoutFields } from './evaluate.js';
import { runExperiment } from './experiment.js';
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
  const { calibration, holdoutCalibration } = run.store.getState();
  if (calibration !== undefined) run.spec = { ...run.spec, bench: calibratedBench(run.spec.bench, calibration) };
  if (holdoutCalibration !== undefined && run.spec.holdout !== undefined) run.spec = { ...run.spec, holdout: calibratedHoldout(run.spec.holdout, holdoutCalibration) };
}

export async function runLoop(run: RunContext, signal: AbortSignal, options: LoopOptions = {}): Promise<Stop> {
  const startedAt = options.startedAt ?? run.now();
  await cancelUnfinished(run);
  await alignBestRef(run);
  applyCalibration(run);
  if (run.store.getState().best === undefined) {
    const stop = await measureBaseline(run, signal);
    if (stop) return stop;
  }
  for (;;) {
    if (signal.aborted) return { reason: 'signal', detail: 'interrupted' };
    const state = run.store.getState();
    const budgetStop = checkBudget(state, run.spec, run.now() - startedAt);
    if (budgetStop) return budgetStop;
    const best = state.best!;
    const exp = experimentId(state.lastExperimentNumber + 1);
    const outcome = await runExperiment(run, exp, best, signal);
    if (outcome.kind === 'exhausted') return { reason: 'exhausted', detail: outcome.reason };
    if (outcome.kind === 'interrupted') return { reason: 'signal', detail: `interrupted during ${exp}` };
  }
}
