/**
 * Where the chart's labels go: pure geometry. Each kept point's label tries a few places around
 * it, in order (slanted into the region of worse values, as autoresearch's chart does; then level,
 * on either side and a line or two further out), and takes the first that stays inside the plot
 * and clears every label placed before, every point and the running-best line. Labels are placed
 * baseline first, then by gain, so when a crowded run has no room for all, the small gains go
 * unlabelled (their points keep their tooltips) rather than drawn over each other.
 */

export interface LabelRequest {
  exp: string;
  text: string;
  /** The point's centre. */
  cx: number;
  cy: number;
  /** Placement order: lower first. */
  priority: number;
}

export interface PlacedLabel {
  exp: string;
  text: string;
  x: number;
  y: number;
  anchor: 'start' | 'end';
  /** Degrees, about (x, y); 0 for level text. */
  angle: number;
}

export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface LabelScene {
  /** The plot area: labels stay inside it (the plot is clipped to it). */
  bounds: Rect;
  /** Every marker on the plot, as circles; a label is placed around its own point, not clear of it. */
  points: readonly { exp: string; cx: number; cy: number; r: number }[];
  /** The running-best line, as segments. */
  lines: readonly { x1: number; y1: number; x2: number; y2: number }[];
  /** -1 when worse values are drawn higher (minimize), +1 when lower (maximize). */
  worse: -1 | 1;
  fontSize: number;
  angle: number;
}

type Point = readonly [number, number];
type Polygon = readonly Point[];

/**
 * Advance widths of DejaVu Sans (the chart's first font), in em: a text's width is their sum, so
 * collision tests are close to what a browser or resvg draws.
 */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const c of text) em += charWidth(c);
  return em * fontSize;
}

function charWidth(c: string): number {
  if (c >= 'A' && c <= 'Z') return c === 'I' || c === 'J' ? 0.32 : c === 'M' || c === 'W' ? 0.88 : 0.7;
  if (c >= '0' && c <= '9') return 0.64;
  if (c >= 'a' && c <= 'z') return 'ijlft'.includes(c) ? 0.32 : c === 'm' || c === 'w' ? 0.9 : 0.6;
  if (' .,:;\''.includes(c)) return 0.32;
  if (c === '→') return 0.84;
  if ('-()'.includes(c)) return 0.38;
  return 0.62;
}

/** The label's outline, a margin around the text, rotated as it is drawn. */
export function labelOutline(label: Pick<PlacedLabel, 'text' | 'x' | 'y' | 'anchor' | 'angle'>, fontSize: number, margin = 2, width = textWidth(label.text, fontSize)): Polygon {
  const x0 = (label.anchor === 'start' ? label.x : label.x - width) - margin;
  const x1 = (label.anchor === 'start' ? label.x + width : label.x) + margin;
  const y0 = label.y - 0.78 * fontSize - margin;
  const y1 = label.y + 0.24 * fontSize + margin;
  const rad = (label.angle * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const turn = ([px, py]: Point): Point => [label.x + (px - label.x) * cos - (py - label.y) * sin, label.y + (px - label.x) * sin + (py - label.y) * cos];
  return [turn([x0, y0]), turn([x1, y0]), turn([x1, y1]), turn([x0, y1])];
}

function axes(polygon: Polygon): Point[] {
  return polygon.map(([x, y], i) => {
    const [nx, ny] = polygon[(i + 1) % polygon.length]!;
    return [y - ny, nx - x] as const;
  });
}

function project(polygon: Polygon, [ax, ay]: Point): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const [x, y] of polygon) {
    const p = x * ax + y * ay;
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  return [lo, hi];
}

/** Whether two convex polygons overlap (separating axis test). */
export function overlaps(a: Polygon, b: Polygon): boolean {
  for (const axis of [...axes(a), ...axes(b)]) {
    const [a0, a1] = project(a, axis);
    const [b0, b1] = project(b, axis);
    if (a1 <= b0 || b1 <= a0) return false;
  }
  return true;
}

function box(left: number, top: number, right: number, bottom: number): Polygon {
  return [
    [left, top],
    [right, top],
    [right, bottom],
    [left, bottom],
  ];
}

/** The places a label tries, nearest and most readable first. */
function candidates(cx: number, cy: number, scene: LabelScene): Omit<PlacedLabel, 'exp' | 'text'>[] {
  const w = scene.worse;
  const line = Math.round(scene.fontSize * 1.2);
  // Baselines just off the marker on the worse (below: +, above: -) and the better side.
  const worseY = cy + (w > 0 ? 13 : -7);
  const betterY = cy + (w > 0 ? -6 : 13);
  const out: Omit<PlacedLabel, 'exp' | 'text'>[] = [{ x: cx + 7, y: worseY, anchor: 'start', angle: w * scene.angle }];
  for (let step = 0; step <= 4; step++) {
    out.push(
      { x: cx - 9, y: betterY - w * step * line, anchor: 'end', angle: 0 },
      { x: cx + 9, y: worseY + w * step * line, anchor: 'start', angle: 0 },
      { x: cx + 9, y: betterY - w * step * line, anchor: 'start', angle: 0 },
      { x: cx - 9, y: worseY + w * step * line, anchor: 'end', angle: 0 },
    );
  }
  return out;
}

function inside(polygon: Polygon, r: Rect): boolean {
  return polygon.every(([x, y]) => x >= r.left && x <= r.right && y >= r.top && y <= r.bottom);
}

/** Shorter texts to try when the whole one fits nowhere. */
function shortened(text: string): string[] {
  const cut = (max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`);
  return [...new Set([text, cut(24), cut(14)])];
}

interface Bounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function boundsOf(polygon: Polygon): Bounds {
  const b = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const [x, y] of polygon) {
    b.x0 = Math.min(b.x0, x);
    b.y0 = Math.min(b.y0, y);
    b.x1 = Math.max(b.x1, x);
    b.y1 = Math.max(b.y1, y);
  }
  return b;
}

type Kind = 'label' | 'point' | 'line';

/** Outlines in a grid of cells, so a crowded chart of thousands of points still places its labels quickly. */
class Obstacles {
  private readonly cells = new Map<string, { outline: Polygon; bounds: Bounds; kind: Kind; exp: string | undefined }[]>();
  private static readonly CELL = 24;

  add(outline: Polygon, kind: Kind, exp?: string): void {
    const bounds = boundsOf(outline);
    for (const key of Obstacles.keys(bounds)) {
      let cell = this.cells.get(key);
      if (cell === undefined) this.cells.set(key, (cell = []));
      cell.push({ outline, bounds, kind, exp });
    }
  }

  /** Whether `outline` overlaps an obstacle of those kinds (not the points of `exp`). */
  hits(outline: Polygon, kinds: ReadonlySet<Kind>, exp: string): boolean {
    const b = boundsOf(outline);
    for (const key of Obstacles.keys(b)) {
      for (const o of this.cells.get(key) ?? []) {
        if (!kinds.has(o.kind) || (o.kind === 'point' && o.exp === exp)) continue;
        if (o.bounds.x1 <= b.x0 || b.x1 <= o.bounds.x0 || o.bounds.y1 <= b.y0 || b.y1 <= o.bounds.y0) continue;
        if (overlaps(o.outline, outline)) return true;
      }
    }
    return false;
  }

  private static keys(b: Bounds): string[] {
    const keys: string[] = [];
    const c = Obstacles.CELL;
    for (let i = Math.floor(b.x0 / c); i <= Math.floor(b.x1 / c); i++) for (let j = Math.floor(b.y0 / c); j <= Math.floor(b.y1 / c); j++) keys.push(`${i},${j}`);
    return keys;
  }
}

const STRICT: ReadonlySet<Kind> = new Set(['label', 'point', 'line']);
const RELAXED: ReadonlySet<Kind> = new Set(['label', 'point']);

/** A place for each label that fits; those that fit nowhere are left out. Returned in request order. */
export function placeLabels(requests: readonly LabelRequest[], scene: LabelScene): PlacedLabel[] {
  const { fontSize } = scene;
  const obstacles = new Obstacles();
  for (const p of scene.points) obstacles.add(box(p.cx - p.r - 1, p.cy - p.r - 1, p.cx + p.r + 1, p.cy + p.r + 1), 'point', p.exp);
  for (const l of scene.lines) obstacles.add(box(Math.min(l.x1, l.x2) - 1, Math.min(l.y1, l.y2) - 1, Math.max(l.x1, l.x2) + 1, Math.max(l.y1, l.y2) + 1), 'line');
  const placed: PlacedLabel[] = [];
  // A long run has more keeps than the plot has room for labels: only the first (by priority)
  // few times what fits are tried, so the chart of thousands of experiments renders at once.
  const room = Math.max(8, Math.floor((scene.bounds.right - scene.bounds.left) / 24));
  const order = requests.map((r, i) => ({ r, i })).sort((a, b) => a.r.priority - b.r.priority || a.i - b.i).slice(0, 2 * room);
  for (const { r } of order) {
    if (placed.length >= room) break;
    let found: { label: PlacedLabel; outline: Polygon } | undefined;
    // The running-best line is crossed only when nothing else fits; labels and points never are.
    for (const kinds of [STRICT, RELAXED]) {
      for (const text of shortened(r.text)) {
        const width = textWidth(text, fontSize);
        for (const at of candidates(r.cx, r.cy, scene)) {
          const label: PlacedLabel = { exp: r.exp, text, ...at };
          const outline = labelOutline(label, fontSize, 2, width);
          if (!inside(outline, scene.bounds) || obstacles.hits(outline, kinds, r.exp)) continue;
          found = { label, outline };
          break;
        }
        if (found) break;
      }
      if (found) break;
    }
    if (found === undefined) continue;
    placed.push(found.label);
    obstacles.add(found.outline, 'label');
  }
  const index = new Map(requests.map((r, i) => [r.exp, i]));
  return placed.sort((a, b) => index.get(a.exp)! - index.get(b.exp)!);
}
