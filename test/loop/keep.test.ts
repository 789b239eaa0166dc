import { describe, expect, it } from 'vitest';
import { refs } from '../../src/domain/refs.js';
import { runLoop } from '../../src/loop/run-loop.js';
import { measured } from '../../src/testing/evaluations.js';
import { FAKE_BASE, FAKE_RUN_ID, fakeRun } from '../../src/testing/fake-run.js';

const never = new AbortController().signal;
const best = refs(FAKE_RUN_ID).best;
const oneMore = { budget: { experiments: 1 } };

describe('the loop keeps and discards', () => {
  it('keeps a candidate that beats the best: the best branch and the state move to it', async () => {
    const f = fakeRun({
      spec: oneMore,
      proposals: [{ kind: 'change', description: 'faster sort', files: { 'src/sort.js': 'fast' } }],
      evaluations: { e0000: measured(100), e0001: measured(120) },
    });
    const stop = await runLoop(f.run, never);
    const commit = f.store.ofType('committed')[0]!.commit;
    expect(stop.reason).toBe('budget');
    expect(f.store.ofType('experiment_finished').map((e) => [e.exp, e.verdict])).toEqual([['e0000', 'keep'], ['e0001', 'keep']]);
    expect(f.store.getState().best).toEqual({ exp: 'e0001', commit, metric: 120 });
    expect(f.workspace.refs.get(best)).toBe(commit);
    expect(f.queue.unused).toEqual([]);
  });

  it('discards a candidate that does not beat the best, and leaves the best where it was', async () => {
    const f = fakeRun({
      spec: oneMore,
      proposals: [{ kind: 'change', description: 'slower sort', files: { 'src/sort.js': 'slow' } }],
      evaluations: { e0000: measured(100), e0001: measured(90) },
    });
    await runLoop(f.run, never);
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0001', verdict: 'discard', metric: 90 });
    expect(f.store.ofType('best_advanced').map((e) => e.exp)).toEqual(['e0000']);
    expect(f.store.getState().best).toEqual({ exp: 'e0000', commit: FAKE_BASE, metric: 100 });
    expect(f.workspace.refs.get(best)).toBe(FAKE_BASE);
  });

  it('builds the next candidate on the kept one and compares it with the kept metric', async () => {
    const f = fakeRun({
      spec: { budget: { experiments: 2 } },
      proposals: [
        { kind: 'change', description: 'first', files: { 'a.js': '1' } },
        { kind: 'change', description: 'second', files: { 'a.js': '2' } },
      ],
      evaluations: { e0000: measured(100), e0001: measured(120), e0002: measured(110) },
    });
    await runLoop(f.run, never);
    const kept = f.store.ofType('committed')[0]!.commit;
    expect(f.proposer.contexts[1]).toMatchObject({ experiment: 'e0002', parentCommit: kept, best: { experiment: 'e0001', metric: 120 } });
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0002', verdict: 'discard', parent: kept });
  });

  it('rejects an empty change without evaluating it', async () => {
    const f = fakeRun({
      spec: oneMore,
      proposals: [{ kind: 'change', description: 'nothing at all', files: {} }],
      evaluations: { e0000: measured(100) },
    });
    await runLoop(f.run, never);
    expect(f.store.ofType('experiment_finished').at(-1)).toMatchObject({ exp: 'e0001', verdict: 'rejected', reason: 'empty diff: the agent changed nothing' });
    expect(f.queue.requests.map((r) => r.experiment)).toEqual(['e0000']);
  });

  it('removes every worktree it made once the run ends', async () => {
    const f = fakeRun({
      spec: oneMore,
      proposals: [{ kind: 'change', description: 'faster', files: { 'a.js': '1' } }],
      evaluations: { e0000: measured(100), e0001: measured(120) },
    });
    await runLoop(f.run, never);
    expect([...f.workspace.worktrees.keys()]).toEqual([]);
  });

  it("takes no repository snapshot around a confined agent and tells the workspace the worktree's index is ratchet's", async () => {
    const script = () => ({
      spec: { budget: { experiments: 2 } },
      proposals: [
        { kind: 'change', description: 'one', files: { 'a.js': '1' } },
        { kind: 'change', description: 'two', files: { 'b.js': '2' } },
      ] as const,
      evaluations: { e0000: measured(100), e0001: measured(90), e0002: measured(80) },
    });
    const confined = fakeRun(script());
    confined.run.agentConfined = true;
    await runLoop(confined.run, never);
    expect(confined.workspace.snapshots).toBe(0);
    expect(confined.workspace.trust.filter((t) => t.call === 'commitAll')).toEqual([
      { call: 'commitAll', indexTrusted: true },
      { call: 'commitAll', indexTrusted: true },
    ]);
    expect(confined.workspace.trust.filter((t) => t.call === 'createWorktree').every((t) => t.indexTrusted)).toBe(true);

    const unconfined = fakeRun(script());
    await runLoop(unconfined.run, never);
    expect(unconfined.workspace.snapshots).toBe(2);
    expect(unconfined.workspace.trust.some((t) => t.indexTrusted)).toBe(false);
    expect(unconfined.store.ofType('experiment_finished').map((e) => e.verdict)).toEqual(confined.store.ofType('experiment_finished').map((e) => e.verdict));
  });
});
