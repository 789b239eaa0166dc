/**
 * The progress chart's data and SVG, on small runs built from events.
 */
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/core/types.js';
import type { RunEvent } from '../../src/store/events.js';
import { foldEvents, type RunState } from '../../src/store/state.js';
import { progressData } from '../../src/view/chart/progress-data.js';
import { integerTicks, metricDomain, niceTicks } from '../../src/view/chart/scale.js';
import { renderProgressSvg } from '../../src/view/chart/svg.js';

type Row = [exp: string, verdict: Verdict, metric: number | undefined, description?: string];

/** A run of finished experiments, minimising `loss` unless told otherwise. */
function run(rows: Row[], goal: 'minimize' | 'maximize' = 'minimize'): RunState {
  const t = '2026-01-01T00:00:00.000Z';
  const envelope = { v: 1 as const, t, run: 'r1' };
  const events: RunEvent[] = [{ ...envelope, type: 'run_started', target: '/t', base: 'b', metric: 'loss', goal, agent: 'tune', resumed: false }];
  for (const [exp, verdict, metric, description = `try ${exp}`] of rows) {
    events.push({ ...envelope, type: 'experiment_started', exp, parent: 'p', parentExp: 'e0000' });
    events.push({
      ...envelope,
      type: 'experiment_finished',
      exp,
      verdict,
      reason: verdict,
      description,
      parent: 'p',
      secondary: {},
      durationS: 1,
      ...(metric === undefined ? {} : { metric, commit: `c${exp}` }),
    });
  }
  return foldEvents('r1', events);
}

function circles(svg: string): string[] {
  return [...svg.matchAll(/<circle class="point ([^"]*)" data-exp="(e\d+)"/g)].map((m) => `${m[2]}:${m[1]}`);
}

describe('progress data', () => {
  it('keeps the running best monotone in the goal direction, whatever order keeps land in', () => {
    const state = run([
      ['e0000', 'keep', 10],
      ['e0001', 'keep', 8],
      ['e0002', 'discard', 7.5],
      ['e0003', 'keep', 9], // kept on an older parent: no new best
      ['e0004', 'crash', undefined],
      ['e0005', 'keep', 6],
    ]);
    const data = progressData(state);
    expect(data.best).toEqual([
      { n: 0, metric: 10 },
      { n: 1, metric: 8 },
      { n: 5, metric: 6 },
    ]);
    expect(data.points.map((p) => p.kind)).toEqual(['baseline', 'keep', 'discard', 'keep', 'failed', 'keep']);
    expect([data.experiments, data.kept]).toEqual([5, 3]);
  });
});

describe('progress SVG', () => {
  const state = run([
    ['e0000', 'keep', 10],
    ['e0001', 'discard', 11],
    ['e0002', 'keep', 9, 'use <fast> & "safe" path'],
    ['e0003', 'checks_failed', undefined],
    ['e0004', 'discard', 9.5],
  ]);

  it('draws every experiment once, failures without a metric along the bottom', () => {
    const svg = renderProgressSvg(state);
    expect(circles(svg)).toEqual(['e0001:discard discard', 'e0003:failed checks_failed', 'e0004:discard discard', 'e0000:baseline keep', 'e0002:keep keep']);
    const failed = /<circle class="point failed[^>]*cy="([\d.]+)"/.exec(svg)!;
    const others = [...svg.matchAll(/<circle class="point (?:keep|discard|baseline)[^>]*cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Number(failed[1])).toBeGreaterThan(Math.max(...others));
    expect(svg).toContain('no metric');
  });

  it('escapes descriptions in labels and tooltips', () => {
    const svg = renderProgressSvg(state);
    expect(svg).not.toContain('<fast>');
    expect(svg).toContain('use &#60;fast&#62; &#38; &#34;safe&#34; path');
  });

  it('shows only the experiments inside a zoom range', () => {
    const svg = renderProgressSvg(state, undefined, { from: 1.5, to: 3.5 });
    expect(circles(svg).map((c) => c.slice(0, 5)).sort()).toEqual(['e0002', 'e0003']);
    expect(svg).toContain('data-x-from="1.5" data-x-to="3.5"');
  });

  it('keeps a far-off discard from flattening the steps, drawing it at the edge', () => {
    const svg = renderProgressSvg(run([
      ['e0000', 'keep', 100],
      ['e0001', 'keep', 90],
      ['e0002', 'discard', 5000],
    ]));
    expect(svg).toMatch(/<circle class="point discard discard clipped" data-exp="e0002"/);
    const ys = [...svg.matchAll(/<circle class="point (?:keep|baseline)[^>]*cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    // The kept steps still span a good part of the plot height.
    expect(Math.abs(ys[0]! - ys[1]!)).toBeGreaterThan(80);
  });

  it('draws an empty chart for a run with no finished experiment', () => {
    const svg = renderProgressSvg(run([]));
    expect(circles(svg)).toEqual([]);
    expect(svg).toContain('r1: 0 experiments, 0 kept');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});

describe('scales', () => {
  it('picks round tick values', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(983, 1307, 6)).toEqual([1000, 1100, 1200, 1300]);
    expect(integerTicks(0, 3, 10)).toEqual([0, 1, 2, 3]);
  });

  it('pads the metric range and never returns an empty one', () => {
    const [lo, hi] = metricDomain([5], [5]);
    expect(lo).toBeLessThan(5);
    expect(hi).toBeGreaterThan(5);
    expect(metricDomain([], [])).toEqual([0, 1]);
  });
});
