import { describe, expect, it } from 'vitest';
import { eventSchema, EVENT_VERSION, type NewEvent, type RunEvent } from '../../src/domain/events.js';
import { checkBudget } from '../../src/plan/budget.js';
import { foldEvents } from '../../src/plan/fold.js';
import { freeSlots, mergeStep, selectParent } from '../../src/plan/parallel.js';
import { fakeSpec } from '../../src/testing/fake-run.js';

const RUN = 'parallel-run';
const log = (events: readonly NewEvent[]): RunEvent[] =>
  events.map((e, i) => eventSchema.parse({ v: EVENT_VERSION, t: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), run: RUN, ...e }));
const started: NewEvent = { type: 'run_started', target: '/repo', base: 'b0', metric: 'score', goal: 'maximize', agent: 'replay', resumed: false };
const begun = (exp: string, parent = 'b0'): NewEvent => ({ type: 'experiment_started', exp, parent, parentExp: 'e0000' });
const finished = (exp: string, verdict: 'keep' | 'discard' | 'crash', costUsd?: number): NewEvent => ({
  type: 'experiment_finished',
  exp,
  verdict,
  reason: verdict,
  description: exp,
  commit: `c-${exp}`,
  parent: 'b0',
  secondary: {},
  metric: 100,
  ...(costUsd === undefined ? {} : { usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd } }),
  durationS: 1,
});
const baseline: NewEvent[] = [started, begun('e0000'), finished('e0000', 'keep'), { type: 'best_advanced', exp: 'e0000', commit: 'b0', metric: 100 }];

describe('parent selection', () => {
  it('starts an experiment from the best as it stands when the experiment starts', () => {
    const state = foldEvents(RUN, log([...baseline, begun('e0001'), finished('e0001', 'keep'), { type: 'best_advanced', exp: 'e0001', commit: 'c-e0001', metric: 120, holdout: 3 }]));
    expect(selectParent(state)).toEqual({ exp: 'e0001', commit: 'c-e0001', metric: 120, holdout: 3 });
  });

  it('has no parent before the baseline is kept', () => {
    expect(selectParent(foldEvents(RUN, log([started, begun('e0000')])))).toBeUndefined();
  });
});

describe('the merge rule', () => {
  const best = { exp: 'e0003' as const, commit: 'c-e0003', metric: 130 };

  it('integrates a candidate whose parent is still the best', () => {
    expect(mergeStep('c-e0003', best)).toEqual({ kind: 'integrate' });
  });

  it('re-applies a candidate whose parent is no longer the best on the new best', () => {
    expect(mergeStep('b0', best)).toEqual({ kind: 'reapply', onto: best });
  });
});

describe('the budget with experiments in flight', () => {
  const state = foldEvents(RUN, log([...baseline, begun('e0001'), finished('e0001', 'discard'), begun('e0002'), begun('e0003')]));
  const spec = fakeSpec({ budget: { experiments: 3 } });

  it('lets one more start while finished and in flight stay under budget.experiments', () => {
    expect(checkBudget(state, spec, 0, 1)).toBeUndefined();
  });

  it('starts none once finished and in flight reach budget.experiments, and says both', () => {
    expect(checkBudget(state, spec, 0, 2)).toEqual({ reason: 'budget', detail: '1 and 2 in flight of 3 experiments done (budget.experiments)' });
  });

  it('counts the cost of the proposals in flight against budget.usd', () => {
    const paid = foldEvents(RUN, log([...baseline, begun('e0001'), finished('e0001', 'discard', 1)]));
    const usd = fakeSpec({ budget: { usd: 3.5 } });
    expect(checkBudget(paid, usd, 0, 1)).toBeUndefined();
    expect(checkBudget(paid, usd, 0, 2)?.detail).toMatch(/budget\.usd/);
  });

  it('gives the number of slots free', () => {
    expect([freeSlots(4, 1), freeSlots(2, 2), freeSlots(1, 3)]).toEqual([3, 0, 0]);
  });
});
