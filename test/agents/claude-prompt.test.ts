import { describe, expect, it } from 'vitest';
import { FAILURE_TAIL_CHARS, MAX_FILES_LISTED, historyTable, renderPrompt } from '../../src/agents/prompt.js';
import type { HistoryRow, ProposalContext } from '../../src/domain/proposal.js';
import type { Verdict } from '../../src/domain/words.js';
import { specSchema } from '../../src/domain/spec.js';

const spec = specSchema.parse({
  objective: 'Make sort faster.',
  editable: ['src/**'],
  protected: ['bench/**', 'test/**'],
  checks: [{ name: 'test', run: 'npm test' }],
  bench: { run: 'node bench/run.js', metric: { name: 'ops_per_sec', goal: 'maximize' }, constraints: [{ metric: 'rss_mb', max: 512 }], min_effect: '1%' },
  agent: { kind: 'claude' },
});

function row(n: number, verdict: Verdict, metric?: number, description = `idea ${n}`): HistoryRow {
  return { experiment: `e${String(n).padStart(4, '0')}`, verdict, metric, description, reason: verdict === 'keep' ? 'better' : `${verdict} reason` };
}

function context(history: HistoryRow[], overrides: Partial<ProposalContext> = {}): ProposalContext {
  return {
    runId: 'run-1',
    experiment: `e${String(history.length).padStart(4, '0')}`,
    worktree: '/wt',
    parentCommit: 'abc',
    spec,
    objective: spec.objective,
    history,
    best: { experiment: 'e0000', metric: 100, commit: '0123456789abcdef' },
    lastFailure: undefined,
    experimentDir: '/exp',
    gitDir: '/repo/.git',
    ...overrides,
  };
}

describe('renderPrompt', () => {
  it('puts objective, metric, rules and files in the stable part, identical across experiments', () => {
    const early = renderPrompt(context([row(0, 'keep', 100)]), { files: ['src/sort.js'] });
    const later = renderPrompt(context([row(0, 'keep', 100), row(1, 'discard', 99), row(2, 'keep', 120)]), { files: ['src/sort.js'] });
    expect(later.system).toBe(early.system);
    expect(later.stable).toBe(early.stable);
    expect(later.volatile).not.toBe(early.volatile);
    expect(early.stable).toContain('Make sort faster.');
    expect(early.stable).toContain('`ops_per_sec`, to maximize (higher is better)');
    expect(early.stable).toContain('by at least 1%');
    expect(early.stable).toContain('Constraint: `rss_mb` must stay ≤ 512.');
    expect(early.stable).toContain('- test: `npm test`');
    expect(early.stable).toContain('Protected (never change): `bench/**`, `test/**`');
    expect(early.stable).toContain('Editable files (1):\n- src/sort.js');
    expect(early.full).toBe(`${early.system}\n\n${early.stable}\n\n${early.volatile}\n`);
  });

  it('tells the agent to make one focused change, form a hypothesis and finish its own way', () => {
    const tool = renderPrompt(context([]), { finish: 'tool' }).system;
    const file = renderPrompt(context([]), { finish: 'file' }).system;
    for (const system of [tool, file]) {
      expect(system).toContain('Make ONE focused change');
      expect(system).toContain('Form a hypothesis');
      expect(system).toContain('Never change protected files');
    }
    expect(tool).toContain('call the `finish` tool with a one-line `description`');
    expect(file).toContain('to `.ratchet/description`');
  });

  it('shows every kept experiment and the 15 most recent, and counts the older failures', () => {
    const history = [row(0, 'keep', 100, 'baseline')];
    for (let n = 1; n < 25; n += 1) history.push(row(n, n % 8 === 0 ? 'keep' : n % 5 === 0 ? 'crash' : 'discard', n % 5 === 0 ? undefined : 90 + n));
    const lines = historyTable(history, 'ops_per_sec');
    const shown = lines.filter((l) => /^\| e\d{4}/.test(l)).map((l) => l.split(' | ')[0]!.slice(2));
    expect(shown).toEqual(['e0000', 'e0008', ...Array.from({ length: 15 }, (_, i) => `e${String(i + 10).padStart(4, '0')}`)]);
    // Hidden: e0001-e0009 without e0008; e0005 crashed.
    expect(lines.at(-1)).toBe('(8 earlier experiments not shown: 7 discard, 1 crash.)');
    expect(lines).toContain('| e0015 | crash | - | idea 15 | crash reason |');
  });

  it('keeps each history row on one line of the table', () => {
    const [, , line] = historyTable([row(1, 'discard', 1.23456789, 'split | merge\nthen sort')], 'm');
    expect(line).toBe('| e0001 | discard | 1.23457 | split \\| merge then sort | discard reason |');
  });

  it('includes the best so far and the capped tail of the last failure', () => {
    const outputTail = `${'x'.repeat(FAILURE_TAIL_CHARS)}\nTypeError: boom at sort.js:3\n`;
    const { volatile } = renderPrompt(
      context([row(0, 'keep', 100)], { lastFailure: { experiment: 'e0004', verdict: 'checks_failed', reason: 'check test failed', outputTail } }),
    );
    expect(volatile).toContain('Best so far: e0000, ops_per_sec = 100 (commit 0123456789).');
    expect(volatile).toContain('# Last failure: e0004, checks_failed: check test failed');
    expect(volatile).toContain('TypeError: boom at sort.js:3\n```');
    expect(volatile.length).toBeLessThan(FAILURE_TAIL_CHARS + 1500);
  });

  it('caps the file list', () => {
    const files = Array.from({ length: MAX_FILES_LISTED + 7 }, (_, i) => `src/f${i}.js`);
    const { stable } = renderPrompt(context([]), { files });
    expect(stable).toContain(`Editable files (${MAX_FILES_LISTED + 7}):`);
    expect(stable).toContain('- … and 7 more');
    expect(stable).not.toContain(`src/f${MAX_FILES_LISTED}.js`);
  });
});

describe('the candidates in flight', () => {
  it('lists the other candidates in flight with their stage, so the agent picks another idea', () => {
    const { volatile } = renderPrompt(
      context([row(0, 'keep', 100)], {
        inFlight: [
          { experiment: 'e0001', description: 'unroll the inner loop', phase: 'bench' },
          { experiment: 'e0002', description: '', phase: 'proposing' },
        ],
      }),
    );
    expect(volatile).toContain('# In flight');
    expect(volatile).toContain('- e0001 (bench): unroll the inner loop');
    expect(volatile).toContain('- e0002 (proposing): (its agent is still working)');
  });

  it('says nothing of candidates in flight when there are none', () => {
    expect(renderPrompt(context([row(0, 'keep', 100)], { inFlight: [] })).volatile).not.toContain('In flight');
  });
});
