/**
 * The description of a tune experiment, readable by a person and parsed back on the next
 * proposal: the history is the search's only memory, so a resumed run continues where it was.
 *
 *   lr 0.0003 → 0.0012 (width 64, ctx 8) [tune lr+1 width:2 ctx:1]
 *
 * The changed parameters with old → new values, the unchanged ones in parentheses, then the
 * search state after the proposal: per parameter its step level (step = 2^-(level+1) of the
 * normalised range), with + or - on the parameter that moved and its direction.
 */

export interface Move {
  /** Index of the parameter. */
  param: number;
  dir: 1 | -1;
}

export interface TriedPoint {
  /** The parent's values (the best when it was proposed), as written in the files. */
  from: string[];
  /** The values tried. */
  to: string[];
  moves: Move[];
  /** Step level of every parameter after the proposal. */
  levels: number[];
}

export function describePoint(labels: readonly string[], point: TriedPoint): string {
  const moved = new Set(point.moves.map((m) => m.param));
  const changes: string[] = [];
  const rest: string[] = [];
  labels.forEach((label, i) => {
    if (moved.has(i)) changes.push(`${label} ${point.from[i]} → ${point.to[i]}`);
    else rest.push(`${label} ${point.to[i]}`);
  });
  const state = labels.map((label, i) => {
    const move = point.moves.find((m) => m.param === i);
    return move === undefined ? `${label}:${point.levels[i]}` : `${label}${move.dir > 0 ? '+' : '-'}${point.levels[i]}`;
  });
  return `${changes.join(', ')}${rest.length > 0 ? ` (${rest.join(', ')})` : ''} [tune ${state.join(' ')}]`;
}

const SHAPE = /^(?<changes>.+?)(?: \((?<rest>[^()]*)\))? \[tune (?<state>[^\]]*)\]$/u;

/**
 * The tried point of a description written by `describePoint` for the same labels; undefined
 * for anything else (the baseline, another agent's change, a spec whose parameters changed).
 */
export function parseDescription(description: string, labels: readonly string[]): TriedPoint | undefined {
  const shape = SHAPE.exec(description.trim())?.groups;
  if (shape === undefined) return undefined;
  const index = new Map(labels.map((label, i) => [label, i]));
  const from: (string | undefined)[] = labels.map(() => undefined);
  const to: (string | undefined)[] = labels.map(() => undefined);
  const levels: (number | undefined)[] = labels.map(() => undefined);
  const moves: Move[] = [];

  for (const change of shape.changes!.split(', ')) {
    const m = /^(\S+) (\S+) → (\S+)$/u.exec(change);
    const i = m === null ? undefined : index.get(m[1]!);
    if (m === null || i === undefined || to[i] !== undefined) return undefined;
    from[i] = m[2]!;
    to[i] = m[3]!;
  }
  for (const kept of shape.rest === undefined || shape.rest === '' ? [] : shape.rest.split(', ')) {
    const m = /^(\S+) (\S+)$/.exec(kept);
    const i = m === null ? undefined : index.get(m[1]!);
    if (m === null || i === undefined || to[i] !== undefined) return undefined;
    from[i] = m[2]!;
    to[i] = m[2]!;
  }
  for (const token of shape.state!.split(' ')) {
    const still = /^(.+):(\d+)$/.exec(token);
    const moved = still === null ? /^(.+)([+-])(\d+)$/.exec(token) : null;
    const label = still?.[1] ?? moved?.[1];
    const i = label === undefined ? undefined : index.get(label);
    if (i === undefined || levels[i] !== undefined) return undefined;
    levels[i] = Number(still?.[2] ?? moved?.[3]);
    if (moved !== null) moves.push({ param: i, dir: moved[2] === '+' ? 1 : -1 });
  }

  if (![...from, ...to].every((v) => v !== undefined && Number.isFinite(Number(v)))) return undefined;
  if (!levels.every((l) => l !== undefined)) return undefined;
  // The moved parameters are exactly the changed ones, or the line was not ours.
  const changed = labels.map((_, i) => from[i] !== to[i] || moves.some((m) => m.param === i));
  if (changed.filter(Boolean).length !== moves.length || !moves.every((m) => from[m.param] !== to[m.param])) return undefined;
  return { from: from as string[], to: to as string[], moves, levels };
}
