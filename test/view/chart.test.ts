/**
 * The progress chart's data and SVG, on small runs built from events.
 */
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/domain/words.js';
import type { RunEvent } from '../../src/domain/events.js';
import { foldEvents } from '../../src/plan/fold.js';
import type { RunState } from '../../src/domain/run-state.js';
import { progressData } from '../../src/view/chart/progress-data.js';
import { integerTicks, metricDomain, niceTicks } from '../../src/view/chart/scale.js';
import { labelOutline, overlaps } from '../../src/view/chart/labels.js';
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

/** The labels an SVG draws, with the outline each covers. */
function drawnLabels(svg: string) {
  return [...svg.matchAll(/<text class="label" data-exp="(e\d+)"[^>]*? x="([\d.-]+)" y="([\d.-]+)"( text-anchor="end")?(?: transform="rotate\(([\d.-]+) [^"]*"\))?>([^<]*)<\/text>/g)].map((m) => {
    const label = { exp: m[1]!, x: Number(m[2]), y: Number(m[3]), anchor: m[4] ? ('end' as const) : ('start' as const), angle: Number(m[5] ?? 0), text: m[6]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))) };
    return { ...label, outline: labelOutline(label, 11, 0) };
  });
}

function plotOf(svg: string): { left: number; right: number; top: number; bottom: number } {
  const m = /<clipPath id="ratchet-plot-clip"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  return { left: x, top: y, right: x + w, bottom: y + h };
}

describe('progress chart labels', () => {
  it('labels kept points with their description, the baseline inside the plot when it is the highest point', () => {
    const svg = renderProgressSvg(run([
      ['e0000', 'keep', 10],
      ['e0001', 'keep', 9, 'HIDDEN 64 → 108'],
      ['e0002', 'discard', 9.5],
      ['e0003', 'keep', 8, 'LEARNING_RATE 1e-3 → 5.62e-3'],
    ]));
    const labels = drawnLabels(svg);
    expect(labels.map((l) => l.text)).toEqual(['baseline', 'HIDDEN 64 → 108', 'LEARNING_RATE 1e-3 → 5.62e-3']);
    const plot = plotOf(svg);
    for (const l of labels) for (const [x, y] of l.outline) expect(x >= plot.left && x <= plot.right && y >= plot.top && y <= plot.bottom, `${l.text} at ${x},${y}`).toBe(true);
  });

  it('never draws two labels over each other, even when every experiment of a long run is kept', () => {
    for (const goal of ['minimize', 'maximize'] as const) {
      const rows: Row[] = Array.from({ length: 41 }, (_, i) => [`e${String(i).padStart(4, '0')}`, 'keep', goal === 'minimize' ? 100 - i : 100 + i, `LEARNING_RATE ${i}e-3 → ${i + 1}e-3`]);
      for (const width of [640, 1200]) {
        const svg = renderProgressSvg(run(rows, goal), undefined, { width, height: 400 });
        const labels = drawnLabels(svg);
        expect(labels.length).toBeGreaterThan(3);
        expect(labels[0]!.text).toBe('baseline');
        for (const [i, a] of labels.entries()) for (const b of labels.slice(i + 1)) expect(overlaps(a.outline, b.outline), `${a.exp} and ${b.exp}`).toBe(false);
        const plot = plotOf(svg);
        for (const l of labels) for (const [x, y] of l.outline) expect(x >= plot.left && x <= plot.right && y >= plot.top && y <= plot.bottom).toBe(true);
      }
    }
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
