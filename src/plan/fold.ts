/**
 * The run's state as a pure fold of its events. Everything a resume, `show` or a view needs is
 * derived here, so the event log stays the only source of truth.
 */
import type { ExperimentState, RunState } from '../domain/run-state.js';
import { VERDICTS, type Verdict } from '../domain/words.js';
import type { RunEvent } from '../domain/events.js';

export function emptyState(runId: string): RunState {
  return { runId, started: undefined, experiments: new Map(), best: undefined, baseline: undefined, calibration: undefined, holdoutCalibration: undefined, stopped: undefined, lastEventAt: undefined, lastExperimentNumber: -1, cancelled: 0 };
}

export function applyEvent(state: RunState, event: RunEvent): RunState {
  state.lastEventAt = event.t;
  switch (event.type) {
    case 'run_started':
      state.started ??= event;
      // A resumed run is running again.
      state.stopped = undefined;
      break;
    case 'experiment_started':
      state.lastExperimentNumber = Math.max(state.lastExperimentNumber, Number(event.exp.slice(1)));
      state.experiments.set(event.exp, {
        id: event.exp,
        parent: event.parent,
        parentExp: event.parentExp,
        phase: 'proposing',
        description: '',
        hypothesis: undefined,
        commit: undefined,
        files: [],
        startedAt: event.t,
        finished: undefined,
        usage: undefined,
        agentState: undefined,
      });
      break;
    case 'proposed': {
      const e = state.experiments.get(event.exp);
      if (e) {
        e.description = event.description;
        e.hypothesis = event.hypothesis;
        e.usage = event.usage;
        e.agentState = event.agentState;
      }
      break;
    }
    case 'committed': {
      const e = state.experiments.get(event.exp);
      if (e) {
        e.commit = event.commit;
        e.files = event.files;
      }
      break;
    }
    case 'reapplied': {
      // Re-applied on a newer best: from here on the candidate is the new commit on that parent.
      const e = state.experiments.get(event.exp);
      if (e) {
        e.reappliedFrom = event.from;
        e.commit = event.commit;
        e.parent = event.onto;
        e.parentExp = event.ontoExp;
      }
      break;
    }
    case 'stage_started': {
      const e = state.experiments.get(event.exp);
      if (e) e.phase = event.stage;
      break;
    }
    case 'stage_finished': {
      const e = state.experiments.get(event.exp);
      if (e && e.phase === event.stage) e.phase = 'deciding';
      break;
    }
    case 'experiment_finished': {
      const e = state.experiments.get(event.exp);
      if (e) {
        e.phase = 'finished';
        e.finished = event;
        e.description = event.description;
        e.commit = event.commit ?? e.commit;
        e.usage = event.usage ?? e.usage;
      }
      if (event.exp === 'e0000' && event.metric !== undefined && event.commit !== undefined) {
        state.baseline = { commit: event.commit, metric: event.metric };
      }
      break;
    }
    case 'experiment_cancelled':
      state.experiments.delete(event.exp);
      state.cancelled += 1;
      break;
    case 'calibrated': {
      const { v: _v, t: _t, run: _run, type: _type, exp: _exp, stage, ...calibration } = event;
      if (stage === 'holdout') state.holdoutCalibration = calibration;
      else state.calibration = calibration;
      break;
    }
    case 'best_advanced':
      state.best = { exp: event.exp, commit: event.commit, metric: event.metric, ...(event.holdout === undefined ? {} : { holdout: event.holdout }) };
      break;
    case 'run_stopped':
      state.stopped = event;
      break;
  }
  return state;
}

export function foldEvents(runId: string, events: readonly RunEvent[]): RunState {
  return events.reduce(applyEvent, emptyState(runId));
}

/** Finished experiments in order. */
export function finishedExperiments(state: RunState): ExperimentState[] {
  return [...state.experiments.values()].filter((e) => e.finished !== undefined).sort((a, b) => a.id.localeCompare(b.id));
}

/** Experiments started but not finished: in flight, or cut off by a crash. */
export function unfinishedExperiments(state: RunState): ExperimentState[] {
  return [...state.experiments.values()].filter((e) => e.finished === undefined).sort((a, b) => a.id.localeCompare(b.id));
}

export function verdictCounts(state: RunState): Record<Verdict, number> {
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const e of finishedExperiments(state)) if (e.id !== 'e0000' && e.finished) counts[e.finished.verdict] += 1;
  return counts;
}

export function totalCostUsd(state: RunState): number {
  let sum = 0;
  for (const e of state.experiments.values()) sum += e.usage?.costUsd ?? 0;
  return sum;
}

/** Relative gain of the best over the baseline, positive when better in the goal's direction. */
export function bestGain(state: RunState): number | undefined {
  const goal = state.started?.goal;
  if (!state.baseline || !state.best || goal === undefined || state.baseline.metric === 0) return undefined;
  const diff = state.best.metric - state.baseline.metric;
  return (goal === 'minimize' ? -diff : diff) / Math.abs(state.baseline.metric);
}
