import { describe, expect, it } from 'vitest';
import { nextPatch } from '../../src/agents/replay.js';
import type { HistoryRow, InFlightRow, ProposalContext } from '../../src/domain/proposal.js';
import { fakeSpec } from '../../src/testing/fake-run.js';

const done = (exp: string, patch?: number): HistoryRow => ({
  experiment: exp,
  verdict: 'discard',
  metric: 1,
  description: exp,
  reason: 'worse',
  ...(patch === undefined ? {} : { agentState: { agent: 'replay', v: 1, patch } }),
});
const flying = (exp: string, patch?: number): InFlightRow => ({
  experiment: exp,
  description: '',
  phase: 'bench',
  ...(patch === undefined ? {} : { agentState: { agent: 'replay', v: 1, patch } }),
});
const context = (history: HistoryRow[], inFlight: InFlightRow[]): ProposalContext => ({
  runId: 'r',
  experiment: 'e0009',
  worktree: '/wt',
  parentCommit: 'abc',
  spec: fakeSpec(),
  objective: 'o',
  history: [done('e0000'), ...history],
  inFlight,
  best: { experiment: 'e0000', metric: 1, commit: 'abc' },
  lastFailure: undefined,
  experimentDir: '/exp',
  gitDir: '/git',
});

describe('which patch the replay agent takes', () => {
  it('takes the first patch that no finished or in-flight experiment took', () => {
    expect(nextPatch(context([done('e0001', 0), done('e0003', 2)], [flying('e0002', 1)]), new Map())).toBe(3);
  });

  it('skips a patch an experiment of this process is still proposing, before it is recorded', () => {
    expect(nextPatch(context([done('e0001', 0)], [flying('e0002')]), new Map([['e0002', 1]]))).toBe(2);
  });

  it('gives back the patch of an experiment interrupted in flight: neither finished nor in flight any more', () => {
    // e0002 took patch 1 and was cancelled by a crash; e0003 (patch 2) finished.
    expect(nextPatch(context([done('e0001', 0), done('e0003', 2)], []), new Map())).toBe(1);
  });

  it('counts the rows of a run recorded before proposals named their patch as the first patches', () => {
    expect(nextPatch(context([done('e0001'), done('e0002')], []), new Map())).toBe(2);
  });
});
