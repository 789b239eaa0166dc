/**
 * What a tune experiment records: a description for people, and its search state for the next
 * proposal (the history is the search's only memory, so a resumed run continues where it was).
 *
 *   description   HIDDEN 64 → 108
 *   agentState    { agent: 'tune', v: 1, params: [...], from: [...], to: [...], moves: [...], levels: [...] }
 *
 * `levels` is each parameter's step level after the proposal (step = 2^-(level+1) of its
 * normalised range); `moves` the parameter that moved and its direction.
 *
 * Runs recorded before the state had its own field carry it in the description,
 * `lr 0.0003 → 0.0012 (width 64, ctx 8) [tune lr+1 width:2 ctx:1]`: `parseDescription` reads those.
 */
import { z } from 'zod';

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

/** The changed parameters with old → new values: what tables and the chart show. */
export function describeChange(labels: readonly string[], point: TriedPoint): string {
  return point.moves.map((m) => `${labels[m.param]} ${point.from[m.param]} → ${point.to[m.param]}`).join(', ');
}

export const TUNE_STATE_VERSION = 1 as const;

const stateSchema = z.object({
  agent: z.literal('tune'),
  v: z.literal(TUNE_STATE_VERSION),
  params: z.array(z.string()),
  from: z.array(z.string()),
  to: z.array(z.string()),
  moves: z.array(z.object({ param: z.int().min(0), dir: z.union([z.literal(1), z.literal(-1)]) })),
  levels: z.array(z.int().min(0)),
});

export type TuneState = z.infer<typeof stateSchema>;

/** The search state of a proposal, as recorded with it (`agentState`). */
export function tuneState(labels: readonly string[], point: TriedPoint): TuneState {
  return { agent: 'tune', v: TUNE_STATE_VERSION, params: [...labels], from: [...point.from], to: [...point.to], moves: point.moves.map((m) => ({ ...m })), levels: [...point.levels] };
}

/**
 * The tried point recorded for the same parameters; undefined for anything else (another
 * agent's state, another version, a spec whose parameters changed).
 */
export function pointFromState(state: unknown, labels: readonly string[]): TriedPoint | undefined {
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) return undefined;
  const { params, from, to, moves, levels } = parsed.data;
  const n = labels.length;
  if (params.length !== n || params.some((p, i) => p !== labels[i]) || from.length !== n || to.length !== n || levels.length !== n) return undefined;
  if (moves.some((m) => m.param >= n) || ![...from, ...to].every((v) => Number.isFinite(Number(v)))) return undefined;
  return { from, to, moves, levels };
}

/** A history row's tried point: from its recorded state, else (a run recorded before) its description. */
export function readTriedPoint(row: { description: string; agentState?: unknown }, labels: readonly string[]): TriedPoint | undefined {
  return pointFromState(row.agentState, labels) ?? parseDescription(row.description, labels);
}

const SHAPE = /^(?<changes>.+?)(?: \((?<rest>[^()]*)\))? \[tune (?<state>[^\]]*)\]$/u;

/**
 * The tried point of a description in the format of runs before `agentState` (see the header)
 * for the same labels; undefined for anything else (the baseline, another agent's change, a
 * spec whose parameters changed).
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
