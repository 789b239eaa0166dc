import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/loop/run-loop.js';
import { checksFailed, measured } from '../../src/testing/evaluations.js';
import { fakeRun } from '../../src/testing/fake-run.js';

const never = new AbortController().signal;
const change = (n: number) => ({ kind: 'change' as const, description: `try ${n}`, files: { 'a.js': String(n) } });

describe('the loop stops', () => {
  it('when the experiments budget is spent, naming budget.experiments', async () => {
    const f = fakeRun({
      spec: { budget: { experiments: 2 } },
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(95) },
    });
    expect(await runLoop(f.run, never)).toEqual({ reason: 'budget', detail: '2 of 2 experiments done (budget.experiments)' });
    expect(f.proposer.left).toBe(0);
  });

  it('when the time budget is used by the injected clock, naming budget.duration', async () => {
    // Each evaluation takes 20 minutes of the fake clock: the baseline, e0001 and e0002 use the hour.
    const slow = (metric: number) => measured(metric, { durationS: 20 * 60 });
    const f = fakeRun({
      spec: { budget: { duration: '1h' } },
      proposals: [change(1), change(2)],
      evaluations: { e0000: slow(100), e0001: slow(90), e0002: slow(95) },
    });
    const stop = await runLoop(f.run, never);
    expect(stop.reason).toBe('budget');
    expect(stop.detail).toMatch(/\(budget\.duration\)$/);
    expect(f.store.ofType('experiment_finished').map((e) => e.exp)).toEqual(['e0000', 'e0001', 'e0002']);
  });

  it('after consecutive failures, naming budget.consecutive_failures', async () => {
    const f = fakeRun({
      spec: { budget: { consecutive_failures: 2 } },
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: checksFailed('test failed'), e0002: checksFailed('test failed') },
    });
    expect(await runLoop(f.run, never)).toEqual({ reason: 'failures', detail: '2 experiments in a row failed (budget.consecutive_failures: 2)' });
  });

  it('when the agent is exhausted: the run ends and that experiment gets no verdict', async () => {
    const f = fakeRun({
      proposals: [change(1), { kind: 'exhausted', reason: 'no patches left' }],
      evaluations: { e0000: measured(100), e0001: measured(90) },
    });
    expect(await runLoop(f.run, never)).toEqual({ reason: 'exhausted', detail: 'no patches left' });
    expect(f.store.ofType('experiment_cancelled')).toMatchObject([{ exp: 'e0002', reason: 'no patches left' }]);
    expect(f.store.ofType('experiment_finished').map((e) => e.exp)).toEqual(['e0000', 'e0001']);
  });

  it('with an error when the baseline fails, before any proposal', async () => {
    const f = fakeRun({ proposals: [], evaluations: { e0000: checksFailed('test failed') } });
    const stop = await runLoop(f.run, never);
    expect(stop.reason).toBe('error');
    expect(stop.detail).toMatch(/^the baseline failed: test failed/);
    expect(f.proposer.contexts).toEqual([]);
  });

  it('when interrupted: an aborted signal stops before the next experiment', async () => {
    const controller = new AbortController();
    const f = fakeRun({ proposals: [], evaluations: { e0000: measured(100) } });
    f.store.onAppend = (event) => {
      if (event.type === 'best_advanced') controller.abort();
    };
    expect(await runLoop(f.run, controller.signal)).toEqual({ reason: 'signal', detail: 'interrupted' });
  });
});
