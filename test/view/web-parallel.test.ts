import { runInfo } from '../helpers/run-info.js';
import { describe, expect, it } from 'vitest';
import type { NewEvent, RunEvent } from '../../src/domain/events.js';
import { foldEvents } from '../../src/plan/fold.js';
import { experimentRow, summarise } from '../../src/view/web/api.js';

const RUN = '2026-12-03-parallel-a1b2';
const BASE = 'ba5e'.padEnd(40, '0');
let second = 0;
const ev = (event: NewEvent): RunEvent => ({ v: 1, t: new Date(Date.UTC(2026, 11, 3, 8, 0, second++)).toISOString(), run: RUN, ...event });
const info = runInfo(RUN, BASE, '2026-12-03T08:00:00.000Z', { objective: 'lower', bench: { run: 'sh bench.sh', metric: { name: 'score', goal: 'minimize' } }, agent: { kind: 'replay', parallel: 3 } });

describe('the dashboard with several candidates in flight', () => {
  const events = [
    ev({ type: 'run_started', target: '/src/target', base: BASE, metric: 'score', goal: 'minimize', agent: 'replay', resumed: false }),
    ev({ type: 'experiment_started', exp: 'e0000', parent: BASE, parentExp: 'e0000' }),
    ev({ type: 'experiment_finished', exp: 'e0000', verdict: 'keep', reason: 'baseline', description: 'baseline', commit: BASE, parent: BASE, secondary: {}, metric: 10, durationS: 1 }),
    ev({ type: 'best_advanced', exp: 'e0000', commit: BASE, metric: 10 }),
    ...['e0001', 'e0002', 'e0003'].map((exp) => ev({ type: 'experiment_started', exp, parent: BASE, parentExp: 'e0000' })),
    ev({ type: 'proposed', exp: 'e0001', description: 'first idea' }),
    ev({ type: 'stage_started', exp: 'e0001', stage: 'checks' }),
    ev({ type: 'proposed', exp: 'e0002', description: 'second idea' }),
    ev({ type: 'reapplied', exp: 'e0002', from: 'f'.repeat(40), commit: 'c'.repeat(40), onto: 'e'.repeat(40), ontoExp: 'e0000' }),
    ev({ type: 'stage_started', exp: 'e0002', stage: 'bench' }),
  ];
  const state = foldEvents(RUN, events);

  it('counts every candidate in flight in the summary', () => {
    expect(summarise({ dir: '/runs/x', info, state }).inFlight).toBe(3);
  });

  it('gives each candidate in flight its own stage, and names the best a re-applied one is measured on', () => {
    const rows = [...state.experiments.values()].filter((e) => e.id !== 'e0000').map(experimentRow);
    expect(rows.map((r) => [r.id, r.phase, r.description, r.reappliedOnto])).toEqual([
      ['e0001', 'checks', 'first idea', undefined],
      ['e0002', 'bench', 'second idea', 'e0000'],
      ['e0003', 'proposing', '', undefined],
    ]);
  });
});
