/**
 * The holdout in what the user reads: results.tsv's last columns (empty for a run recorded
 * before them), the `show` table, and the chart's overfit point.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatRunTable } from '../../src/cli/commands/inspect.js';
import { resultRows } from '../../src/app/inspect.js';
import { parseEvents, type RunEvent } from '../../src/domain/events.js';
import { parseResultsTsv, renderResultsTsv } from '../../src/store/results-tsv.js';
import { foldEvents } from '../../src/plan/fold.js';
import { renderProgressSvg } from '../../src/view/chart/svg.js';
import { summarize } from '../../src/view/summary.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const base = { v: 1 as const, t: '2026-11-21T10:00:00.000Z', run: 'r' };

function holdoutRun(): RunEvent[] {
  const finished = (exp: string, verdict: 'keep' | 'overfit', metric: number, holdout: { metric: number; parent?: number; change?: number; passed: boolean }, reason: string): RunEvent => ({
    ...base,
    type: 'experiment_finished',
    exp,
    verdict,
    reason,
    description: `${exp} change`,
    commit: `${exp.slice(1)}abcdef`,
    parent: '0000abcdef',
    metric,
    secondary: {},
    holdout: { rule: 'no_regress', reason: 'cost', ...holdout },
    durationS: 1,
  });
  return [
    { ...base, type: 'run_started', target: '/t', base: '0000abcdef', metric: 'score', goal: 'minimize', agent: 'replay', resumed: false },
    { ...base, type: 'experiment_started', exp: 'e0000', parent: '0000abcdef', parentExp: 'e0000' },
    finished('e0000', 'keep', 10, { metric: 5, passed: true }, 'baseline'),
    { ...base, type: 'best_advanced', exp: 'e0000', commit: '0000abcdef', metric: 10, holdout: 5 },
    { ...base, type: 'experiment_started', exp: 'e0001', parent: '0000abcdef', parentExp: 'e0000' },
    finished('e0001', 'overfit', 7, { metric: 6, parent: 5, change: 0.2, passed: false }, 'bench score -30.0% but holdout cost +20.0% (5 → 6): rule no_regress'),
  ];
}

describe('the holdout in the views', () => {
  it('leaves the holdout columns of results.tsv empty for a run recorded before them', async () => {
    const { events } = parseEvents(await readFile(join(FIXTURE, 'events.jsonl'), 'utf8'));
    const rows = parseResultsTsv(renderResultsTsv(foldEvents('run-basic', events)));
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect([row.holdout, row.holdout_parent, row.holdout_change_pct]).toEqual(['', '', '']);
  });

  it('reads back the holdout fields of the events, and the best holdout value', () => {
    const lines = holdoutRun().map((e) => JSON.stringify(e)).join('\n');
    const { events, problems } = parseEvents(lines);
    expect(problems).toEqual([]);
    const state = foldEvents('r', events);
    expect(state.best).toMatchObject({ exp: 'e0000', holdout: 5 });
    expect(state.experiments.get('e0001')?.finished).toMatchObject({ verdict: 'overfit', holdout: { metric: 6, parent: 5 } });
  });

  it('shows a holdout column in `show` only for a run with a holdout', () => {
    const state = foldEvents('r', holdoutRun());
    const rows = resultRows(state);
    const text = formatRunTable({ summary: summarize(state, '/runs/r'), rows, inFlight: [] });
    const [header, , overfit] = text.split('\n\n')[1]!.split('\n');
    expect(header).toMatch(/gain +holdout +commit/);
    expect(overfit).toMatch(/e0001 +overfit +7 +.*6 \(\+20\.0%\).*holdout cost \+20\.0% \(5 → 6\)/);
    const without = formatRunTable({ summary: summarize(state, '/runs/r'), rows: rows.map((r) => ({ ...r, holdout: undefined, holdoutChange: undefined })), inFlight: [] });
    expect(without.split('\n\n')[1]!.split('\n')[0]).not.toContain('holdout');
  });

  it('draws an overfit candidate in its own colour, with a legend entry only when there is one', async () => {
    const svg = renderProgressSvg(foldEvents('r', holdoutRun()));
    expect(svg).toMatch(/class="point overfit overfit( clipped)?" data-exp="e0001"[^>]*fill="#e08a1e"/);
    expect(svg).toContain('>overfit</text>');
    const { events } = parseEvents(await readFile(join(FIXTURE, 'events.jsonl'), 'utf8'));
    expect(renderProgressSvg(foldEvents('run-basic', events))).not.toContain('>overfit</text>');
  });
});
