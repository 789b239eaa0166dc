import { describe, expect, it } from 'vitest';
import { eventSchema, EVENT_VERSION, type NewEvent, type RunEvent } from '../../src/domain/events.js';
import { bestGain, finishedExperiments, foldEvents, totalCostUsd, unfinishedExperiments, verdictCounts } from '../../src/plan/fold.js';

const RUN = 'fold-run';
const log = (events: readonly NewEvent[]): RunEvent[] =>
  events.map((e, i) => eventSchema.parse({ v: EVENT_VERSION, t: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), run: RUN, ...e }));

const started: NewEvent = { type: 'run_started', target: '/repo', base: 'b0', metric: 'score', goal: 'maximize', agent: 'replay', resumed: false };
const finished = (exp: string, verdict: 'keep' | 'discard' | 'crash', metric?: number): NewEvent => ({
  type: 'experiment_finished',
  exp,
  verdict,
  reason: verdict,
  description: exp,
  commit: `c-${exp}`,
  parent: 'b0',
  secondary: {},
  ...(metric === undefined ? {} : { metric }),
  durationS: 1,
});
const begun = (exp: string): NewEvent => ({ type: 'experiment_started', exp, parent: 'b0', parentExp: 'e0000' });

describe('the fold of a run', () => {
  it('records the baseline and the best from their events', () => {
    const state = foldEvents(RUN, log([started, begun('e0000'), finished('e0000', 'keep', 100), { type: 'best_advanced', exp: 'e0000', commit: 'b0', metric: 100 }]));
    expect(state.baseline).toEqual({ commit: 'c-e0000', metric: 100 });
    expect(state.best).toEqual({ exp: 'e0000', commit: 'b0', metric: 100 });
  });

  it('forgets a cancelled experiment but never reuses its number', () => {
    const state = foldEvents(RUN, log([started, begun('e0000'), finished('e0000', 'keep', 100), begun('e0001'), { type: 'experiment_cancelled', exp: 'e0001', reason: 'interrupted' }]));
    expect([...state.experiments.keys()]).toEqual(['e0000']);
    expect(state.lastExperimentNumber).toBe(1);
    expect(state.cancelled).toBe(1);
  });

  it('tells finished experiments from those a crash cut off', () => {
    const state = foldEvents(RUN, log([started, begun('e0000'), finished('e0000', 'keep', 100), begun('e0001'), finished('e0001', 'discard', 90), begun('e0002')]));
    expect(finishedExperiments(state).map((e) => e.id)).toEqual(['e0000', 'e0001']);
    expect(unfinishedExperiments(state).map((e) => e.id)).toEqual(['e0002']);
  });

  it('counts verdicts after the baseline, one count per verdict', () => {
    const state = foldEvents(RUN, log([started, begun('e0000'), finished('e0000', 'keep', 100), begun('e0001'), finished('e0001', 'crash'), begun('e0002'), finished('e0002', 'discard', 90)]));
    expect(verdictCounts(state)).toEqual({ keep: 0, discard: 1, checks_failed: 0, crash: 1, timeout: 0, rejected: 0, conflict: 0, overfit: 0 });
  });

  it('is running again once resumed after a stop', () => {
    const state = foldEvents(RUN, log([started, { type: 'run_stopped', reason: 'signal', detail: 'interrupted' }, { ...started, resumed: true }]));
    expect(state.stopped).toBeUndefined();
  });

  it("sums the proposals' cost and measures the best's gain over the baseline in the goal's direction", () => {
    const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.25 };
    const state = foldEvents(
      RUN,
      log([
        started,
        begun('e0000'),
        finished('e0000', 'keep', 100),
        { type: 'best_advanced', exp: 'e0000', commit: 'b0', metric: 100 },
        begun('e0001'),
        { type: 'proposed', exp: 'e0001', description: 'x', usage },
        finished('e0001', 'keep', 125),
        { type: 'best_advanced', exp: 'e0001', commit: 'c-e0001', metric: 125 },
      ]),
    );
    expect(totalCostUsd(state)).toBe(0.25);
    expect(bestGain(state)).toBeCloseTo(0.25, 12);
  });
});
