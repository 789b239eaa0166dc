/** When to stop: a pure function of the run's state, the spec's budget and the clock. */
import type { Spec } from '../domain/spec.js';
import { formatDuration } from '../domain/duration.js';
import { finishedExperiments, totalCostUsd } from './fold.js';
import type { RunState } from '../domain/run-state.js';
import type { StopReason, Verdict } from '../domain/words.js';

export interface Stop {
  reason: StopReason;
  detail: string;
}

const FAILURES: ReadonlySet<Verdict> = new Set(['crash', 'timeout', 'checks_failed', 'rejected', 'conflict']);

export function trailingFailures(state: RunState): number {
  let count = 0;
  for (const e of finishedExperiments(state).reverse()) {
    if (e.id === 'e0000' || !e.finished || !FAILURES.has(e.finished.verdict)) break;
    count += 1;
  }
  return count;
}

export function experimentsDone(state: RunState): number {
  return finishedExperiments(state).filter((e) => e.id !== 'e0000').length;
}

/** Average cost of the proposals so far, the estimate of what the next one costs. */
function averageCost(state: RunState): number {
  const costs = [...state.experiments.values()].map((e) => e.usage?.costUsd).filter((c): c is number => c !== undefined && c > 0);
  return costs.length === 0 ? 0 : costs.reduce((a, b) => a + b, 0) / costs.length;
}

/**
 * Whether another experiment may start, given `inFlight` experiments started and not finished:
 * undefined, or why not. What is in flight counts against the budget (`experiments` is never
 * exceeded, the next proposals' cost is estimated for each); with nothing in flight, a stop here
 * ends the run.
 */
export function checkBudget(state: RunState, spec: Spec, elapsedMs: number, inFlight = 0): Stop | undefined {
  const budget = spec.budget;
  const done = experimentsDone(state);
  if (budget.experiments !== undefined && done + inFlight >= budget.experiments) {
    const flying = inFlight === 0 ? '' : ` and ${inFlight} in flight`;
    return { reason: 'budget', detail: `${done}${flying} of ${budget.experiments} experiments done (budget.experiments)` };
  }
  if (budget.duration !== undefined && elapsedMs >= budget.duration) {
    return { reason: 'budget', detail: `time budget of ${formatDuration(budget.duration)} used (budget.duration)` };
  }
  if (budget.usd !== undefined) {
    const spent = totalCostUsd(state);
    const next = averageCost(state);
    // Each proposal in flight will cost about as much as the average so far.
    const committed = spent + next * inFlight;
    if (spent >= budget.usd || committed + next > budget.usd) {
      return { reason: 'budget', detail: `$${spent.toFixed(2)} spent; the next proposal (about $${next.toFixed(2)}) would pass the $${budget.usd.toFixed(2)} budget (budget.usd)` };
    }
  }
  const failures = trailingFailures(state);
  if (failures >= budget.consecutive_failures) {
    return { reason: 'failures', detail: `${failures} experiments in a row failed (budget.consecutive_failures: ${budget.consecutive_failures})` };
  }
  return undefined;
}
