/**
 * The progress chart as a standalone SVG document: pure, no I/O. Plain presentation attributes
 * (no CSS) so rasterisers render it as browsers do. Every experiment is one `circle.point` with
 * `data-exp`; the dashboard relies on those and on the `data-*` geometry of the root element.
 */
import { formatGain, formatMetric } from '../../plan/decide.js';
import type { RunInfo } from '../../store/run-dir.js';
import type { RunState } from '../../domain/run-state.js';
import { placeLabels, type LabelScene, type PlacedLabel } from './labels.js';
import { progressData, type ProgressData, type ProgressPoint } from './progress-data.js';
import { integerTicks, linearScale, metricDomain, niceTicks, type Scale } from './scale.js';

export interface ChartOptions {
  width?: number;
  height?: number;
  /** Experiment numbers to show (a zoom); points outside are left out. */
  from?: number;
  to?: number;
}

const COLORS = {
  keep: '#2a9d4b',
  baseline: '#2f6db5',
  discard: '#b9bec4',
  overfit: '#e08a1e',
  failed: '#d9837f',
  best: '#1e7a3a',
  grid: '#e6e8eb',
  axis: '#5b636b',
  text: '#24292f',
  muted: '#6e7781',
} as const;

const FONT = 'DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif';
const LABEL_CHARS = 42;
const LABEL_ANGLE = 28;
const LABEL_FONT_SIZE = 11;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

export function pointTitle(p: ProgressPoint): string {
  const value = p.metric === undefined ? 'no metric' : formatMetric(p.metric);
  const gain = p.gain === undefined || p.exp === 'e0000' ? '' : ` (${formatGain(p.gain)})`;
  return `${p.exp} · ${p.verdict} · ${value}${gain} — ${p.description || p.reason}`;
}

export function renderProgressSvg(state: RunState, info?: RunInfo, options: ChartOptions = {}): string {
  return renderProgressData(progressData(state, info), options);
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  /** Bottom strip of the plot where experiments without a metric sit. */
  failY: number;
}

export function renderProgressData(data: ProgressData, options: ChartOptions = {}): string {
  const width = Math.max(320, Math.round(options.width ?? 1200));
  const height = Math.max(240, Math.round(options.height ?? 600));
  const all = data.points.map((p) => p.n);
  const lastN = all.length > 0 ? Math.max(...all) : 0;
  const from = options.from ?? (all.length > 0 ? Math.min(...all) : 0) - 0.5;
  const to = Math.max(options.to ?? lastN + 0.5, from + 1);
  const visible = data.points.filter((p) => p.n >= from && p.n <= to);
  const hasFailures = visible.some((p) => p.kind === 'failed');

  const f: Frame = { width, height, left: 78, right: width - 24, top: 58, bottom: height - 52, failY: 0 };
  f.failY = f.bottom - 11;
  const x = linearScale([from, to], [f.left, f.right]);
  const measured = visible.filter((p) => p.metric !== undefined);
  const core = measured.filter((p) => p.kind === 'baseline' || p.kind === 'keep').map((p) => p.metric!);
  const yDomain = metricDomain(core, measured.map((p) => p.metric!));
  const yBottom = hasFailures ? f.bottom - 24 : f.bottom - 4;
  const y = linearScale(yDomain, [yBottom, f.top + 6]);
  const clampY = (v: number): number => Math.min(yBottom, Math.max(f.top + 6, y(v)));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` class="ratchet-progress" font-family="${FONT}" data-x-from="${from}" data-x-to="${to}"` +
      ` data-plot-left="${f.left}" data-plot-right="${f.right}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<clipPath id="ratchet-plot-clip"><rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}"/></clipPath>`,
    ...header(data, f),
    ...axes(data, f, x, y, [from, to], yDomain, hasFailures),
    `<g clip-path="url(#ratchet-plot-clip)">`,
    bestLine(data, x, y, lastN),
    ...visible.filter((p) => p.kind === 'discard' || p.kind === 'overfit' || p.kind === 'failed').map((p) => mark(p, x(p.n), p.metric === undefined ? f.failY : clampY(p.metric), yDomain)),
    ...visible.filter((p) => p.kind === 'keep' || p.kind === 'baseline').map((p) => mark(p, x(p.n), clampY(p.metric!), yDomain)),
    ...labels(data, visible, f, { x, y, clampY }),
    `</g>`,
    ...(width >= 660 ? legend(f, visible.some((p) => p.kind === 'overfit')) : []),
    `</svg>`,
  ];
  return `${parts.filter((s) => s !== '').join('\n')}\n`;
}

function header(data: ProgressData, f: Frame): string[] {
  const title = `${data.runId}: ${data.experiments} experiment${data.experiments === 1 ? '' : 's'}, ${data.kept} kept`;
  const direction = data.goal === 'minimize' ? 'lower is better' : 'higher is better';
  return [
    `<text x="${f.left}" y="26" font-size="17" font-weight="bold" fill="${COLORS.text}">${escapeXml(title)}</text>`,
    `<text x="${f.left}" y="45" font-size="12" fill="${COLORS.muted}">${escapeXml(`${data.metric} (${direction})`)}</text>`,
  ];
}

function axes(data: ProgressData, f: Frame, x: Scale, y: Scale, xDomain: [number, number], yDomain: [number, number], hasFailures: boolean): string[] {
  const out: string[] = [`<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="${COLORS.grid}"/>`];
  for (const t of niceTicks(yDomain[0], yDomain[1], 6)) {
    const ty = num(y(t));
    out.push(`<line x1="${f.left}" x2="${f.right}" y1="${ty}" y2="${ty}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${f.left - 8}" y="${ty}" dy="4" font-size="11" text-anchor="end" fill="${COLORS.axis}">${formatMetric(t)}</text>`);
  }
  const count = Math.max(2, Math.floor((f.right - f.left) / 70));
  for (const t of integerTicks(Math.ceil(xDomain[0]), Math.floor(xDomain[1]), count)) {
    const tx = num(x(t));
    out.push(`<line x1="${tx}" x2="${tx}" y1="${f.bottom}" y2="${f.bottom + 5}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${tx}" y="${f.bottom + 18}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${t}</text>`);
  }
  out.push(`<text x="${(f.left + f.right) / 2}" y="${f.bottom + 40}" font-size="12" text-anchor="middle" fill="${COLORS.muted}">experiment</text>`);
  const midY = num((f.top + f.bottom) / 2);
  out.push(`<text x="18" y="${midY}" font-size="12" text-anchor="middle" fill="${COLORS.muted}" transform="rotate(-90 18 ${midY})">${escapeXml(data.metric)}</text>`);
  if (hasFailures) {
    const band = f.bottom - 20;
    out.push(`<line x1="${f.left}" x2="${f.right}" y1="${band}" y2="${band}" stroke="${COLORS.grid}" stroke-dasharray="3 3"/>`);
    out.push(`<text x="${f.left - 8}" y="${f.failY}" dy="4" font-size="10" text-anchor="end" fill="${COLORS.failed}">no metric</text>`);
  }
  return out;
}

function bestLine(data: ProgressData, x: Scale, y: Scale, lastN: number): string {
  const [first, ...rest] = data.best;
  if (first === undefined) return '';
  let d = `M${num(x(first.n))},${num(y(first.metric))}`;
  for (const step of rest) d += ` H${num(x(step.n))} V${num(y(step.metric))}`;
  d += ` H${num(x(lastN))}`;
  return `<path class="best" d="${d}" fill="none" stroke="${COLORS.best}" stroke-width="2" stroke-opacity="0.85"/>`;
}

function mark(p: ProgressPoint, cx: number, cy: number, yDomain: [number, number]): string {
  const clipped = p.metric !== undefined && (p.metric < yDomain[0] || p.metric > yDomain[1]);
  const cls = `point ${p.kind} ${p.verdict}${clipped ? ' clipped' : ''}`;
  const title = `<title>${escapeXml(pointTitle(p))}</title>`;
  const at = `cx="${num(cx)}" cy="${num(cy)}"`;
  const data = `class="${cls}" data-exp="${p.exp}"`;
  switch (p.kind) {
    case 'keep':
    case 'baseline':
      return `<circle ${data} ${at} r="5.5" fill="${COLORS[p.kind]}" stroke="#ffffff" stroke-width="1.5">${title}</circle>`;
    case 'discard':
      return `<circle ${data} ${at} r="3.5" fill="${COLORS.discard}"${clipped ? ` stroke="${COLORS.axis}" stroke-dasharray="2 1"` : ''}>${title}</circle>`;
    case 'overfit':
      return `<circle ${data} ${at} r="4.5" fill="${COLORS.overfit}"${clipped ? ` stroke="${COLORS.axis}" stroke-dasharray="2 1"` : ''}>${title}</circle>`;
    case 'failed':
      return `<circle ${data} ${at} r="3.5" fill="#ffffff" stroke="${COLORS.failed}" stroke-width="1.5">${title}</circle>`;
  }
}

/** The running best as segments, the path `bestLine` draws. */
function bestSegments(data: ProgressData, x: Scale, y: Scale, lastN: number): LabelScene['lines'] {
  const [first, ...rest] = data.best;
  if (first === undefined) return [];
  const segments: { x1: number; y1: number; x2: number; y2: number }[] = [];
  let at = { x: x(first.n), y: y(first.metric) };
  for (const step of rest) {
    const next = { x: x(step.n), y: y(step.metric) };
    segments.push({ x1: at.x, y1: at.y, x2: next.x, y2: at.y }, { x1: next.x, y1: at.y, x2: next.x, y2: next.y });
    at = next;
  }
  segments.push({ x1: at.x, y1: at.y, x2: x(lastN), y2: at.y });
  return segments;
}

/**
 * Kept points are labelled with their description, slanted into the region of worse values
 * where only discards lie, or elsewhere near the point when that place is taken (labels.ts):
 * labels never overlap each other or a point, and never run out of the plot.
 */
function labels(data: ProgressData, visible: readonly ProgressPoint[], f: Frame, s: { x: Scale; y: Scale; clampY: (v: number) => number }): string[] {
  const placeOf = (p: ProgressPoint): { cx: number; cy: number } => ({ cx: s.x(p.n), cy: p.metric === undefined ? f.failY : s.clampY(p.metric) });
  const kept = visible.filter((p) => p.kind === 'keep' || p.kind === 'baseline');
  const lastN = Math.max(0, ...data.points.map((p) => p.n));
  const placed = placeLabels(
    kept.map((p) => ({
      exp: p.exp,
      text: p.kind === 'baseline' ? 'baseline' : truncate(p.description, LABEL_CHARS),
      ...placeOf(p),
      // The baseline first, then the biggest gains: in a crowded run, small gains go unlabelled.
      priority: p.kind === 'baseline' ? -Infinity : -(p.gain ?? 0),
    })),
    {
      bounds: { left: f.left + 2, top: f.top + 2, right: f.right - 2, bottom: f.bottom - 2 },
      points: visible.map((p) => ({ exp: p.exp, ...placeOf(p), r: p.kind === 'keep' || p.kind === 'baseline' ? 6.5 : 4 })),
      lines: bestSegments(data, s.x, s.y, lastN),
      worse: data.goal === 'maximize' ? 1 : -1,
      fontSize: LABEL_FONT_SIZE,
      angle: LABEL_ANGLE,
    },
  );
  const kinds = new Map(kept.map((p) => [p.exp, p.kind]));
  return placed.map((l) => label(l, kinds.get(l.exp) === 'baseline'));
}

function label(l: PlacedLabel, baseline: boolean): string {
  const color = baseline ? COLORS.baseline : COLORS.best;
  const anchor = l.anchor === 'end' ? ' text-anchor="end"' : '';
  const turn = l.angle === 0 ? '' : ` transform="rotate(${l.angle} ${num(l.x)} ${num(l.y)})"`;
  return `<text class="label" data-exp="${l.exp}" font-size="${LABEL_FONT_SIZE}" fill="${color}" x="${num(l.x)}" y="${num(l.y)}"${anchor}${turn}>${escapeXml(l.text)}</text>`;
}

function legend(f: Frame, overfit: boolean): string[] {
  const items: [string, string][] = [
    ['kept', `<circle cx="0" cy="0" r="5" fill="${COLORS.keep}"/>`],
    ['discarded', `<circle cx="0" cy="0" r="3.5" fill="${COLORS.discard}"/>`],
    // Only in runs that have one, so a chart without a holdout is drawn as before.
    ...(overfit ? [['overfit', `<circle cx="0" cy="0" r="4.5" fill="${COLORS.overfit}"/>`] as [string, string]] : []),
    ['no metric', `<circle cx="0" cy="0" r="3.5" fill="#ffffff" stroke="${COLORS.failed}" stroke-width="1.5"/>`],
    ['running best', `<line x1="-7" x2="7" y1="0" y2="0" stroke="${COLORS.best}" stroke-width="2"/>`],
  ];
  let x = f.right - 370 - (overfit ? 67 : 0);
  const out: string[] = [`<g class="legend" font-size="11" fill="${COLORS.axis}">`];
  for (const [name, swatch] of items) {
    out.push(`<g transform="translate(${x} 40)">${swatch}<text x="11" y="4">${name}</text></g>`);
    x += 24 + name.length * 6.5;
  }
  out.push('</g>');
  return out;
}
