import { describe, expect, it, vi } from 'vitest';
import { refs } from '../../src/domain/refs.js';
import { runLoop } from '../../src/loop/run-loop.js';
import { measured } from '../../src/testing/evaluations.js';
import { FAKE_BASE, FAKE_RUN_ID, fakeRun, type FakeRun } from '../../src/testing/fake-run.js';
import type { ProposalStep } from '../../src/testing/scripted-proposer.js';

const never = new AbortController().signal;
const best = refs(FAKE_RUN_ID).best;
const change = (n: number, file = `f${n}.js`): ProposalStep => ({ kind: 'change', description: `idea ${n}`, files: { [file]: String(n) } });
const parallel = (n: number, experiments: number): Record<string, unknown> => ({ agent: { kind: 'replay', parallel: n }, budget: { experiments } });

/** Lets the held evaluations answer one at a time, in `order`, each once it is asked. */
async function releaseInOrder(f: FakeRun, order: readonly string[]): Promise<void> {
  for (const exp of order) {
    await vi.waitFor(() => expect(f.queue.held).toContain(exp), { interval: 1 });
    f.queue.release(exp);
  }
}

const commitOf = (f: FakeRun, exp: string): string => f.store.ofType('committed').find((e) => e.exp === exp)!.commit;

describe('many candidates in flight', () => {
  it('keeps agent.parallel candidates in flight and never more', async () => {
    const f = fakeRun({
      spec: parallel(3, 6),
      proposals: [1, 2, 3, 4, 5, 6].map((n) => change(n)),
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(90), e0003: measured(90), e0004: measured(90), e0005: measured(90), e0006: measured(90) },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000']);
    await vi.waitFor(() => expect(f.queue.held).toEqual(['e0001', 'e0002', 'e0003']), { interval: 1 });
    await releaseInOrder(f, ['e0002', 'e0001', 'e0004', 'e0003', 'e0005', 'e0006']);
    expect((await loop).reason).toBe('budget');
    expect(f.queue.maxInFlight).toBe(3);
    expect(f.store.ofType('experiment_finished').map((e) => e.exp).sort()).toEqual(['e0000', 'e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006']);
  });

  it('never starts more experiments than budget.experiments, counting those in flight', async () => {
    const f = fakeRun({
      spec: parallel(4, 5),
      proposals: [1, 2, 3, 4, 5].map((n) => change(n)),
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(90), e0003: measured(90), e0004: measured(90), e0005: measured(90) },
    });
    const stop = await runLoop(f.run, never);
    expect(stop).toEqual({ reason: 'budget', detail: '5 of 5 experiments done (budget.experiments)' });
    expect(f.store.ofType('experiment_started').map((e) => e.exp)).toEqual(['e0000', 'e0001', 'e0002', 'e0003', 'e0004', 'e0005']);
    expect(f.proposer.left).toBe(0);
  });

  it('shows each proposal the candidates still in flight', async () => {
    const f = fakeRun({
      spec: parallel(2, 2),
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(90) },
    });
    await runLoop(f.run, never);
    const seen = Object.fromEntries(f.proposer.contexts.map((c) => [c.experiment, c.inFlight?.map((row) => row.experiment)]));
    expect(seen).toEqual({ e0001: ['e0002'], e0002: ['e0001'] });
  });

  it('measures a re-applied keep of a paired bench A/B against the new best', async () => {
    // Six pairs that all agree: enough for the rank test at 95% with no room to extend.
    const pairs = (candidate: number, parent: number) =>
      measured(candidate, { samples: Array.from({ length: 6 }, (_, i) => [{ side: 'candidate' as const, metric: candidate + i / 10, secondary: {} }, { side: 'parent' as const, metric: parent + i / 20, secondary: {} }]).flat() });
    const f = fakeRun({
      spec: { ...parallel(2, 2), bench: { run: 'node bench.js', metric: { name: 'score', goal: 'maximize' }, repeat: 6, max_repeat: 6 } },
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: pairs(120, 100), e0002: [pairs(130, 100), pairs(135, 120)] },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000', 'e0001', 'e0002', 'e0002']);
    await loop;
    const first = commitOf(f, 'e0001');
    const reapplied = f.store.ofType('reapplied');
    expect(f.queue.requests.filter((r) => r.experiment === 'e0002').map((r) => [r.commit, r.parentCommit])).toEqual([
      [commitOf(f, 'e0002'), FAKE_BASE],
      [reapplied[0]!.commit, first],
    ]);
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0002', verdict: 'keep', parent: first });
  });

  it('re-applies a keep whose parent is no longer the best on the new best, and measures it again there, keeping the first logs', async () => {

    const f = fakeRun({
      spec: parallel(2, 2),
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: measured(120), e0002: [measured(130), measured(135)] },
    });
    // What the first measurement's bench writes (a real worker writes the stage logs).
    await f.store.writeExperimentFile('e0002', 'bench.log', 'measured on the base\n');
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000', 'e0001', 'e0002', 'e0002']);
    await loop;
    expect(await f.store.readExperimentFile('e0002', 'first-bench.log')).toBe('measured on the base\n');
    const first = commitOf(f, 'e0001');
    const reapplied = f.store.ofType('reapplied');
    expect(reapplied).toEqual([expect.objectContaining({ exp: 'e0002', from: commitOf(f, 'e0002'), onto: first, ontoExp: 'e0001', metric: 130 })]);
    const again = f.queue.requests.filter((r) => r.experiment === 'e0002');
    // A bench of one run per candidate measures no parent beside it (parentCommit is for A/B):
    // the second measurement is of the re-applied commit, decided against the new best's value.
    expect(again.map((r) => [r.commit, r.parentCommit])).toEqual([
      [commitOf(f, 'e0002'), undefined],
      [reapplied[0]!.commit, undefined],
    ]);
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({
      exp: 'e0002',
      verdict: 'keep',
      commit: reapplied[0]!.commit,
      parent: first,
      metric: 135,
      reapplied: { from: commitOf(f, 'e0002'), fromParent: FAKE_BASE, metric: 130, onto: first, ontoExp: 'e0001' },
    });
    expect(f.store.ofType('best_advanced').map((e) => [e.exp, e.commit])).toEqual([
      ['e0000', FAKE_BASE],
      ['e0001', first],
      ['e0002', reapplied[0]!.commit],
    ]);
    expect(f.workspace.refs.get(best)).toBe(reapplied[0]!.commit);
  });

  it('discards a re-applied candidate that no longer beats the new best', async () => {
    const f = fakeRun({
      spec: parallel(2, 2),
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: measured(120), e0002: [measured(110), measured(118)] },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000', 'e0001', 'e0002', 'e0002']);
    await loop;
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0002', verdict: 'discard', metric: 118, reason: expect.stringMatching(/^re-applied on e0001 and measured again: score 120 → 118/) });
    expect(f.store.getState().best?.exp).toBe('e0001');
  });

  it('gives the verdict conflict to a keep that no longer applies on the new best, without measuring it again', async () => {
    const f = fakeRun({
      spec: parallel(2, 2),
      proposals: [change(1, 'same.js'), change(2, 'same.js')],
      evaluations: { e0000: measured(100), e0001: measured(120), e0002: measured(130) },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000', 'e0001', 'e0002']);
    await loop;
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0002', verdict: 'conflict', reason: expect.stringMatching(/same\.js conflict/), parent: FAKE_BASE });
    expect(f.store.ofType('reapplied')).toEqual([]);
    expect(f.queue.requests.filter((r) => r.experiment === 'e0002')).toHaveLength(1);
    expect(f.workspace.refs.get(best)).toBe(commitOf(f, 'e0001'));
  });

  it('integrates keeps one at a time: each re-applied on the best the previous one left, a linear chain', async () => {
    const f = fakeRun({
      spec: parallel(3, 3),
      proposals: [change(1), change(2), change(3)],
      evaluations: { e0000: measured(100), e0001: measured(110), e0002: [measured(120), measured(121)], e0003: [measured(130), measured(131)] },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, never);
    await releaseInOrder(f, ['e0000']);
    await vi.waitFor(() => expect(f.queue.held).toEqual(['e0001', 'e0002', 'e0003']), { interval: 1 });
    // e0002 and e0003 land while e0001's keep is integrated; each waits its turn in the merge queue.
    f.queue.release('e0001');
    f.queue.release('e0002');
    f.queue.release('e0003');
    await releaseInOrder(f, ['e0002']);
    // While e0002 is measured again, e0003 is not re-applied yet: the best may still move.
    expect(f.workspace.reapplies).toHaveLength(1);
    await releaseInOrder(f, ['e0003']);
    await loop;
    const kept = f.store.ofType('best_advanced').map((e) => e.commit);
    const [r2, r3] = f.store.ofType('reapplied');
    expect(r2).toMatchObject({ exp: 'e0002', onto: commitOf(f, 'e0001') });
    expect(r3).toMatchObject({ exp: 'e0003', onto: r2!.commit });
    expect(kept).toEqual([FAKE_BASE, commitOf(f, 'e0001'), r2!.commit, r3!.commit]);
    // Every kept commit was measured against the commit before it on the best branch.
    const finished = f.store.ofType('experiment_finished').filter((e) => e.verdict === 'keep' && e.exp !== 'e0000');
    expect(finished.map((e) => [e.commit, e.parent])).toEqual([
      [kept[1], kept[0]],
      [kept[2], kept[1]],
      [kept[3], kept[2]],
    ]);
  });

  it('cancels every experiment in flight when interrupted, and says which', async () => {
    const controller = new AbortController();
    const f = fakeRun({
      spec: parallel(2, 4),
      proposals: [change(1), change(2)],
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(90) },
    });
    f.queue.hold = true;
    const loop = runLoop(f.run, controller.signal);
    await releaseInOrder(f, ['e0000']);
    await vi.waitFor(() => expect(f.queue.held).toEqual(['e0001', 'e0002']), { interval: 1 });
    controller.abort();
    expect(await loop).toEqual({ reason: 'signal', detail: 'interrupted during e0001, e0002' });
    expect(f.store.ofType('experiment_cancelled').map((e) => e.exp)).toEqual(['e0001', 'e0002']);
    expect([...f.workspace.worktrees.keys()]).toEqual([]);
  });
});
