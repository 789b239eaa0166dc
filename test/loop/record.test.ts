import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/loop/run-loop.js';
import { checksFailed, measured } from '../../src/testing/evaluations.js';
import { fakeRun } from '../../src/testing/fake-run.js';

const never = new AbortController().signal;
const change = (n: number) => ({ kind: 'change' as const, description: `try ${n}`, files: { 'a.js': String(n) } });

describe('what the loop records', () => {
  it("shows the next proposal the last failure with its output's tail, read back from result.json", async () => {
    const f = fakeRun({
      spec: { budget: { experiments: 2 } },
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: checksFailed('test failed', 'expected 3, got 4'), e0002: measured(90) },
    });
    await runLoop(f.run, never);
    expect(f.proposer.contexts[1]!.lastFailure).toEqual({ experiment: 'e0001', verdict: 'checks_failed', reason: 'test failed', outputTail: 'expected 3, got 4' });
    expect(JSON.parse(f.store.files.get('e0001/result.json')!)).toMatchObject({ verdict: 'checks_failed', failureTail: 'expected 3, got 4' });
  });

  it('records every stage the queue reports, before the verdict', async () => {
    const f = fakeRun({ spec: { budget: { experiments: 1 } }, proposals: [change(1)], evaluations: { e0000: measured(100), e0001: measured(120) } });
    await runLoop(f.run, never);
    const e0001 = f.store.events.filter((e) => 'exp' in e && e.exp === 'e0001').map((e) => (e.type.startsWith('stage_') && 'stage' in e ? `${e.type}:${e.stage}` : e.type));
    expect(e0001).toEqual([
      'experiment_started',
      'proposed',
      'committed',
      'stage_started:setup',
      'stage_finished:setup',
      'stage_started:checks',
      'stage_finished:checks',
      'stage_started:bench',
      'stage_finished:bench',
      'best_advanced',
      'experiment_finished',
    ]);
  });

  it('stops the run when a stage event cannot be recorded, instead of losing it', async () => {
    const f = fakeRun({ spec: { budget: { experiments: 1 } }, proposals: [change(1)], evaluations: { e0000: measured(100), e0001: measured(120) } });
    f.store.onAppend = (event) => {
      if (event.type === 'committed') f.store.refuseAppends((next) => next.type === 'stage_finished');
    };
    await expect(runLoop(f.run, never)).rejects.toThrow('the store refused a stage_finished event');
    expect(f.store.ofType('experiment_finished').map((e) => e.exp)).toEqual(['e0000']);
  });

  it("records the baseline's calibration beside the spec", async () => {
    const f = fakeRun({ proposals: [], spec: { budget: { experiments: 0 } }, evaluations: { e0000: measured(100) } });
    await runLoop(f.run, never);
    expect(f.store.ofType('calibrated')).toMatchObject([{ exp: 'e0000', mode: 'single', repeat: 1 }]);
    expect(f.store.calibration).toMatchObject({ mode: 'single', repeat: 1 });
  });
});
