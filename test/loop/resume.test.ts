import { describe, expect, it } from 'vitest';
import { refs } from '../../src/domain/refs.js';
import { runLoop } from '../../src/loop/run-loop.js';
import { measured } from '../../src/testing/evaluations.js';
import { FAKE_BASE, FAKE_RUN_ID, fakeRun, resumeOf, type FakeRun } from '../../src/testing/fake-run.js';

const never = new AbortController().signal;
const r = refs(FAKE_RUN_ID);

/** A first session that kept e0001, then crashed while e0002 was being evaluated. */
async function crashedSession(): Promise<FakeRun> {
  const first = fakeRun({
    spec: { budget: { experiments: 1 } },
    proposals: [{ kind: 'change', description: 'faster', files: { 'a.js': '1' } }],
    evaluations: { e0000: measured(100), e0001: measured(120) },
  });
  await runLoop(first.run, never);
  await first.store.append({ type: 'experiment_started', exp: 'e0002', parent: first.store.getState().best!.commit, parentExp: 'e0001' });
  return first;
}

describe('a resumed run', () => {
  it('does not measure the baseline again, and cancels the experiment a crash cut off', async () => {
    const first = await crashedSession();
    const second = fakeRun({
      earlier: resumeOf(first),
      spec: { budget: { experiments: 2 } },
      proposals: [{ kind: 'change', description: 'faster still', files: { 'a.js': '2' } }],
      evaluations: { e0003: measured(130) },
    });
    const stop = await runLoop(second.run, never);
    expect(stop).toEqual({ reason: 'budget', detail: '2 of 2 experiments done (budget.experiments)' });
    expect(second.queue.requests.map((q) => q.experiment)).toEqual(['e0003']);
    expect(second.store.ofType('experiment_cancelled')).toMatchObject([{ exp: 'e0002', reason: 'interrupted in an earlier session' }]);
    expect(second.store.getState().best).toMatchObject({ exp: 'e0003', metric: 130 });
  });

  it('shows the next proposal every finished experiment of the earlier session', async () => {
    const first = await crashedSession();
    const second = fakeRun({
      earlier: resumeOf(first),
      spec: { budget: { experiments: 2 } },
      proposals: [{ kind: 'change', description: 'faster still', files: { 'a.js': '2' } }],
      evaluations: { e0003: measured(110) },
    });
    await runLoop(second.run, never);
    expect(second.proposer.contexts[0]!.history.map((h) => [h.experiment, h.verdict])).toEqual([['e0000', 'keep'], ['e0001', 'keep']]);
  });

  it('puts the best branch back where the events say before it goes on', async () => {
    const first = await crashedSession();
    const recorded = first.store.getState().best!.commit;
    // The crash came between moving the branch and recording the keep.
    first.workspace.refs.set(r.best, FAKE_BASE);
    const second = fakeRun({ earlier: resumeOf(first), spec: { budget: { experiments: 1 } }, proposals: [], evaluations: {} });
    expect(await runLoop(second.run, never)).toMatchObject({ reason: 'budget' });
    expect(second.workspace.refs.get(r.best)).toBe(recorded);
  });
});
