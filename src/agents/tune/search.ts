/**
 * The tune agent's search, a pure function of the search space, the current best and the run's
 * history: an adaptive coordinate (compass) search in the normalised space. Each parameter has
 * its own step, `2^-(level+1)` of its range. A kept move doubles that parameter's step and is
 * tried again in the same direction; a failed move is tried in the other direction; when both
 * directions are spent at a step (tried, or no different value in bounds) the step halves and
 * the search moves on to the next parameter. Below the finest step a parameter has converged;
 * when all have, the search is exhausted.
 *
 * The state is rebuilt from the history on every call (each row's `agentState` carries the tried
 * point and the step levels, see describe.ts), so a resumed run continues exactly where it stopped.
 */
import type { Verdict } from '../../domain/words.js';
import { describeChange, readTriedPoint, tuneState, type Move, type TriedPoint, type TuneState } from './describe.js';
import { formatValue, fromUnit, pointKey, toUnit, type Dimension } from './space.js';
import { mulberry32 } from '../../plan/stats.js';

/** The first step is a quarter of each range. */
export const START_LEVEL = 1;
/** The finest step is 1/128 of a range; below it a parameter has converged. */
export const MAX_LEVEL = 6;

export function stepSize(level: number): number {
  return 2 ** -(level + 1);
}

/** What the search needs of a history row. */
export interface SearchRow {
  verdict: Verdict;
  description: string;
  /** What the proposal recorded (`tuneState`); rows of older runs have it in the description. */
  agentState?: unknown;
}

export interface SearchOptions {
  /** Shuffles the order in which parameters are visited; without it, the spec's order. */
  seed?: number | undefined;
  /** Keys (`pointKey`) of points proposed but not yet in the history (parallel proposals). */
  pending?: ReadonlySet<string>;
}

export type SearchStep =
  | { kind: 'point'; point: TriedPoint; description: string; state: TuneState }
  | { kind: 'exhausted'; reason: string };

/** The search state a history leads to. */
export interface SearchState {
  levels: number[];
  /** Direction of each parameter's last kept move: tried first when it is visited again. */
  preferred: (1 | -1 | undefined)[];
  /** The most recent move and whether it was kept: where the next proposal starts. */
  last: { move: Move; kept: boolean } | undefined;
  /** Keys of every point evaluated in the run (tried points and the parents they moved from). */
  tried: Set<string>;
}

export function foldHistory(dims: readonly Dimension[], history: readonly SearchRow[]): SearchState {
  const labels = dims.map((d) => d.label);
  const state: SearchState = {
    levels: dims.map(() => START_LEVEL),
    preferred: dims.map(() => undefined),
    last: undefined,
    tried: new Set(),
  };
  for (const row of history) {
    const point = readTriedPoint(row, labels);
    if (point === undefined) continue;
    state.tried.add(pointKey(point.from));
    state.tried.add(pointKey(point.to));
    const kept = row.verdict === 'keep';
    state.levels = point.levels.map((l) => Math.min(MAX_LEVEL + 1, Math.max(0, l)));
    for (const move of point.moves) {
      if (!kept) continue;
      state.levels[move.param] = Math.max(0, state.levels[move.param]! - 1);
      state.preferred[move.param] = move.dir;
    }
    const first = point.moves[0];
    if (first !== undefined) state.last = { move: first, kept };
  }
  return state;
}

/** The order parameters are visited in: a seeded shuffle, or the spec's order without a seed. */
export function visitOrder(count: number, seed: number | undefined): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  if (seed === undefined) return order;
  const random = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * The next point to try from `center` (the current best's values as written in the files),
 * or `exhausted`. Never a point of the history, a pending one or the center itself.
 */
export function nextPoint(
  dims: readonly Dimension[],
  center: readonly string[],
  history: readonly SearchRow[],
  options: SearchOptions = {},
): SearchStep {
  const state = foldHistory(dims, history);
  const tried = new Set([...state.tried, ...(options.pending ?? []), pointKey(center)]);
  const levels = [...state.levels];
  const order = visitOrder(dims.length, options.seed);
  const units = dims.map((dim, i) => toUnit(dim, Number(center[i])));

  const last = state.last;
  const start = last === undefined ? 0 : order.indexOf(last.move.param);
  // Bounded: every visit that proposes nothing raises one level, and levels stop at MAX_LEVEL + 1.
  for (let visit = 0; levels.some((l) => l <= MAX_LEVEL); visit++) {
    const param = order[(start + visit) % order.length]!;
    if (levels[param]! > MAX_LEVEL) continue;
    const toward = preferredDirection(units[param]!, state.preferred[param]);
    let dirs: (1 | -1)[] = [toward, -toward as 1 | -1];
    if (visit === 0 && last !== undefined) {
      const d = last.move.dir;
      // Kept: push on in the same direction (with the doubled step). Not kept: try the other way.
      dirs = last.kept ? [d, -d as 1 | -1] : [-d as 1 | -1, d];
    }
    for (const dir of dirs) {
      const unit = units[param]! + dir * stepSize(levels[param]!);
      if ((dir > 0 && units[param]! >= 1) || (dir < 0 && units[param]! <= 0)) continue;
      const to = [...center];
      to[param] = formatValue(dims[param]!, outward(dims[param]!, fromUnit(dims[param]!, unit), dir));
      const key = pointKey(to);
      if (tried.has(key)) continue;
      const point: TriedPoint = { from: [...center], to, moves: [{ param, dir }], levels: [...levels] };
      const labels = dims.map((d) => d.label);
      return { kind: 'point', point, description: describeChange(labels, point), state: tuneState(labels, point) };
    }
    levels[param]! += 1;
  }
  const at = dims.map((d, i) => `${d.label} ${center[i]}`).join(', ');
  return {
    kind: 'exhausted',
    reason: `tune converged: every neighbour of ${at} down to 1/${2 ** (MAX_LEVEL + 1)} of each range was tried`,
  };
}

/** An int rounds away from the center, so a small step still reaches the next integer (1.5 from 2 is 1). */
function outward(dim: Dimension, value: number, dir: 1 | -1): number {
  if (dim.type !== 'int') return value;
  return dir > 0 ? Math.ceil(value - 1e-9) : Math.floor(value + 1e-9);
}

/** Toward the last kept direction, else toward the farther bound (more room to improve). */
function preferredDirection(unit: number, preferred: 1 | -1 | undefined): 1 | -1 {
  if (preferred !== undefined) return preferred;
  return unit <= 0.5 ? 1 : -1;
}
