import { describe, expect, it } from 'vitest';
import {
  formatValue,
  MAX_LEVEL,
  nextPoint,
  parseDescription,
  pointFromState,
  pointKey,
  styleOf,
  visitOrder,
  type Dimension,
  type SearchRow,
} from '../../src/agents/tune/index.js';

const plain = styleOf('1');
const dims: Dimension[] = [
  { label: 'lr', min: 1e-4, max: 1e-1, type: 'float', scale: 'log', style: styleOf('3e-4') },
  { label: 'width', min: 8, max: 512, type: 'int', scale: 'log', style: plain },
  { label: 'dropout', min: 0, max: 0.8, type: 'float', scale: 'linear', style: styleOf('0.5') },
];
const start = ['3e-4', '16', '0.5'];

/** A smooth bowl with its minimum 0 at lr 3e-3, width 96, dropout 0.2. */
function bowl(values: readonly string[]): number {
  const [lr, width, dropout] = values.map(Number) as [number, number, number];
  return (Math.log10(lr) - Math.log10(3e-3)) ** 2 + (Math.log2(width) - Math.log2(96)) ** 2 / 4 + ((dropout - 0.2) / 0.3) ** 2;
}

interface Drive {
  history: SearchRow[];
  proposals: string[][];
  center: string[];
  best: number;
  exhausted: string | undefined;
}

/** The loop in miniature: propose, evaluate, keep only a strict improvement, record the row. */
function drive(experiments: number, options: { seed?: number; from?: Drive } = {}): Drive {
  const prior = options.from;
  const run: Drive = prior
    ? { ...prior, history: [...prior.history], proposals: [...prior.proposals] }
    : { history: [{ verdict: 'keep', description: 'baseline' }], proposals: [], center: [...start], best: bowl(start), exhausted: undefined };
  for (let i = 0; i < experiments && run.exhausted === undefined; i++) {
    const step = nextPoint(dims, run.center, run.history, { seed: options.seed });
    if (step.kind === 'exhausted') {
      run.exhausted = step.reason;
      break;
    }
    const value = bowl(step.point.to);
    const keep = value < run.best;
    run.proposals.push(step.point.to);
    run.history.push({ verdict: keep ? 'keep' : 'discard', description: step.description, agentState: step.state });
    if (keep) {
      run.center = step.point.to;
      run.best = value;
    }
  }
  return run;
}

describe('tune search', () => {
  it('gets near the optimum of a smooth bowl within a budget of experiments', () => {
    const run = drive(60);
    expect(bowl(start)).toBeGreaterThan(3);
    expect(run.best).toBeLessThan(0.02);
    const [lr, width, dropout] = run.center.map(Number) as [number, number, number];
    expect(lr).toBeGreaterThan(2e-3);
    expect(lr).toBeLessThan(4.5e-3);
    expect(width).toBeGreaterThanOrEqual(70);
    expect(width).toBeLessThanOrEqual(130);
    expect(Math.abs(dropout - 0.2)).toBeLessThan(0.06);
  });

  it('never proposes a point twice and stays in bounds, until it is exhausted', () => {
    for (const seed of [undefined, 1, 7]) {
      const run = drive(400, { seed });
      expect(run.exhausted).toMatch(/converged/);
      const keys = [pointKey(start), ...run.proposals.map(pointKey)];
      expect(new Set(keys).size).toBe(keys.length);
      for (const point of run.proposals) {
        point.forEach((value, i) => {
          const n = Number(value);
          expect(n).toBeGreaterThanOrEqual(dims[i]!.min);
          expect(n).toBeLessThanOrEqual(dims[i]!.max);
        });
        expect(Number.isInteger(Number(point[1]))).toBe(true);
        expect(point[1]).toMatch(/^\d+$/);
      }
      expect(run.best).toBeLessThan(0.01);
    }
  });

  it('changes one parameter per experiment and says which, from what, to what, keeping its search state apart', () => {
    const run = drive(5);
    for (const [i, point] of run.proposals.entries()) {
      const row = run.history[i + 1]!;
      const parent = pointFromState(row.agentState, dims.map((d) => d.label))!;
      expect(parent.to).toEqual(point);
      expect(point.filter((v, j) => v !== parent.from[j])).toHaveLength(1);
      const moved = parent.moves[0]!.param;
      expect(row.description).toBe(`${dims[moved]!.label} ${parent.from[moved]} → ${point[moved]}`);
    }
    expect(run.history[1]!.description).toMatch(/^lr 3e-4 → [\d.]+e-[34]$/);
    expect(run.history[1]!.agentState).toMatchObject({ agent: 'tune', v: 1, params: ['lr', 'width', 'dropout'], moves: [{ param: 0, dir: 1 }], levels: [1, 1, 1] });
  });

  it('continues a run recorded before its search state had a field of its own, from the descriptions', () => {
    const legacy: SearchRow[] = [
      { verdict: 'keep', description: 'baseline' },
      { verdict: 'keep', description: 'lr 3e-4 → 1.7e-3 (width 16, dropout 0.5) [tune lr+1 width:1 dropout:1]' },
    ];
    const next = nextPoint(dims, ['1.7e-3', '16', '0.5'], legacy);
    if (next.kind !== 'point') throw new Error('expected a point');
    // The kept move doubled lr's step and the search pushes on the same way.
    expect(next.point.moves).toEqual([{ param: 0, dir: 1 }]);
    expect(next.point.levels[0]).toBe(0);
  });

  it('continues a resumed run where it stopped instead of starting over', () => {
    const whole = drive(40, { seed: 3 });
    const firstHalf = drive(20, { seed: 3 });
    // A new process knows only the recorded rows and the best's values in the files.
    const resumed = drive(20, {
      seed: 3,
      from: { ...firstHalf, history: firstHalf.history.map((r) => ({ ...r })), proposals: [...firstHalf.proposals] },
    });
    expect(resumed.proposals).toEqual(whole.proposals);
    expect(resumed.center).toEqual(whole.center);
    // A search that ignored the history would start again with a quarter-range step on the first parameter.
    const amnesiac = nextPoint(dims, firstHalf.center, [], { seed: 3 });
    const next = nextPoint(dims, firstHalf.center, firstHalf.history, { seed: 3 });
    expect(next.kind === 'point' && amnesiac.kind === 'point' && next.description !== amnesiac.description).toBe(true);
    const triedBefore = new Set(firstHalf.proposals.map(pointKey));
    expect(resumed.proposals.slice(20).some((p) => triedBefore.has(pointKey(p)))).toBe(false);
  });

  it('is deterministic for a seed, and the seed changes the order parameters are visited in', () => {
    expect(drive(30, { seed: 11 }).proposals).toEqual(drive(30, { seed: 11 }).proposals);
    expect(visitOrder(3, undefined)).toEqual([0, 1, 2]);
    const orders = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => visitOrder(3, s).join()));
    expect(orders.size).toBeGreaterThan(1);
    for (const order of orders) expect(order.split(',').sort()).toEqual(['0', '1', '2']);
  });

  it('pushes on in the same direction with a doubled step after a kept move, and turns back (to the bound at most) after a failed one', () => {
    const first = nextPoint(dims, start, []);
    if (first.kind !== 'point') throw new Error('expected a point');
    const kept: SearchRow[] = [{ verdict: 'keep', description: first.description, agentState: first.state }];
    const onward = nextPoint(dims, first.point.to, kept);
    if (onward.kind !== 'point') throw new Error('expected a point');
    const lrUnit = (v: string) => Math.log(Number(v) / 1e-4) / Math.log(1e-1 / 1e-4);
    const firstStep = lrUnit(first.point.to[0]!) - lrUnit(start[0]!);
    expect(lrUnit(onward.point.to[0]!) - lrUnit(first.point.to[0]!)).toBeCloseTo(2 * firstStep, 2);
    const back = nextPoint(dims, start, [{ verdict: 'discard', description: first.description, agentState: first.state }]);
    if (back.kind !== 'point') throw new Error('expected a point');
    // The way back is longer than the room below 3e-4: the move stops at the bound.
    expect(back.point.to).toEqual(['1e-4', '16', '0.5']);
  });

  it('skips points still in flight from a parallel proposal', () => {
    const first = nextPoint(dims, start, []);
    expect(first.kind).toBe('point');
    if (first.kind !== 'point') return;
    const second = nextPoint(dims, start, [], { pending: new Set([pointKey(first.point.to)]) });
    expect(second.kind === 'point' && pointKey(second.point.to) !== pointKey(first.point.to)).toBe(true);
  });

  it('is exhausted when every neighbour of the best has been tried', () => {
    const tiny: Dimension[] = [{ label: 'n', min: 1, max: 3, type: 'int', scale: 'linear', style: plain }];
    const history: SearchRow[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const step = nextPoint(tiny, ['2'], history);
      if (step.kind === 'exhausted') break;
      seen.push(step.point.to[0]!);
      history.push({ verdict: 'discard', description: step.description, agentState: step.state });
    }
    expect(seen.sort()).toEqual(['1', '3']);
    expect(nextPoint(tiny, ['2'], history)).toMatchObject({ kind: 'exhausted', reason: expect.stringMatching(/n 2/) });
  });

  it('ignores history rows it did not write', () => {
    const labels = dims.map((d) => d.label);
    for (const text of ['baseline', 'lr 1 → 2', 'swap the loop [tune]', 'lr 1 → 2 (width 3) [tune lr+1 width:1]', 'lr x → 2 (width 3, dropout 0) [tune lr+1 width:1 dropout:1]']) {
      expect(parseDescription(text, labels)).toBeUndefined();
    }
    const point = { from: ['3e-4', '16', '0.5'], to: ['3e-4', '45', '0.5'], moves: [{ param: 1, dir: 1 as const }], levels: [1, 2, MAX_LEVEL + 1] };
    expect(parseDescription(`width 16 → 45 (lr 3e-4, dropout 0.5) [tune lr:1 width+2 dropout:${MAX_LEVEL + 1}]`, labels)).toEqual(point);
    const state = { agent: 'tune', v: 1, params: labels, ...point };
    expect(pointFromState(state, labels)).toEqual(point);
    for (const other of [{ ...state, agent: 'claude' }, { ...state, v: 2 }, { ...state, params: ['lr', 'depth', 'dropout'] }, { ...state, to: ['1'] }, 'width 16 → 45']) {
      expect(pointFromState(other, labels)).toBeUndefined();
    }
  });
});

describe('tune value formatting', () => {
  const dim = (style: string, extra: Partial<Dimension> = {}): Dimension => ({ label: 'x', min: 1e-6, max: 1000, type: 'float', scale: 'log', style: styleOf(style), ...extra });

  it('keeps ints ints and floats compact, in the notation of the original', () => {
    expect(formatValue(dim('64', { type: 'int' }), 95.6)).toBe('96');
    expect(formatValue(dim('0.003'), 0.0061234)).toBe('0.00612');
    expect(formatValue(dim('3e-4'), 0.0006)).toBe('6e-4');
    expect(formatValue(dim('3E-4'), 0.00123)).toBe('1.23E-3');
    expect(formatValue(dim('1.0'), 2.0004)).toBe('2.0');
    expect(formatValue(dim('1'), 2.0004)).toBe('2');
  });

  it('writes a bound rather than a rounded value past it', () => {
    expect(formatValue(dim('0.01', { min: 0.01, max: 0.03146 }), 0.03146)).toBe('0.03146');
    expect(formatValue(dim('5', { type: 'int', min: 1.5, max: 9.5 }), 9.6)).toBe('9');
  });
});
