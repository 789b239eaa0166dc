/**
 * The run's events, one JSON object per line in `events.jsonl`: the source of truth from which
 * the run's state is rebuilt (`resume`, `show`, the views). Every event carries `v`.
 *
 * Versions:
 *   v1 — the first format. Fields added since, each optional (a reader that does not know one
 *        ignores it, one that does reads a log without it): `proposed.agentState`, what the
 *        agent remembers of the proposal (the tune agent's search state, once in the description);
 *        the verdict `overfit`, the stage `holdout`, `experiment_finished.holdout` (the holdout's
 *        figures, `HoldoutResult`) and `best_advanced.holdout` (the new best's holdout value), `experiment_finished.agentReason`.
 */
import { z } from 'zod';
import { EXPERIMENT_ID, STOP_REASONS, VERDICTS } from './words.js';

export const EVENT_VERSION = 1 as const;

const verdict = z.enum(VERDICTS);
const stage = z.enum(['setup', 'checks', 'bench', 'holdout']);
const holdout = z.object({
  metric: z.number(),
  parent: z.number().optional(),
  change: z.number().optional(),
  rule: z.enum(['no_regress', 'improve']),
  passed: z.boolean(),
  reason: z.string(),
  pairs: z.number().optional(),
  p_value: z.number().optional(),
});
const usage = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadTokens: z.number(),
  cacheWriteTokens: z.number(),
  costUsd: z.number(),
});

const base = { v: z.literal(EVENT_VERSION), t: z.string(), run: z.string() };
const exp = z.string().regex(EXPERIMENT_ID);

export const eventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run_started'),
    target: z.string(),
    base: z.string(),
    metric: z.string(),
    goal: z.enum(['minimize', 'maximize']),
    agent: z.string(),
    resumed: z.boolean().default(false),
  }),
  z.object({ ...base, type: z.literal('experiment_started'), exp, parent: z.string(), parentExp: z.string() }),
  z.object({
    ...base,
    type: z.literal('proposed'),
    exp,
    description: z.string(),
    hypothesis: z.string().optional(),
    usage: usage.optional(),
    agentState: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({
    ...base,
    type: z.literal('committed'),
    exp,
    commit: z.string(),
    files: z.array(z.string()),
    insertions: z.number(),
    deletions: z.number(),
  }),
  z.object({ ...base, type: z.literal('stage_started'), exp, stage }),
  z.object({
    ...base,
    type: z.literal('stage_finished'),
    exp,
    stage,
    status: z.string(),
    durationS: z.number(),
    reason: z.string(),
    /** The worker that ran the stage; absent in logs from before workers were named. */
    worker: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('experiment_finished'),
    exp,
    verdict,
    reason: z.string(),
    description: z.string(),
    commit: z.string().optional(),
    parent: z.string(),
    metric: z.number().optional(),
    delta: z.number().optional(),
    gain: z.number().optional(),
    secondary: z.record(z.string(), z.number()).default({}),
    pairs: z.number().optional(),
    stats: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).optional(),
    usage: usage.optional(),
    holdout: holdout.optional(),
    /** What the agent is told instead of `reason` (which names the holdout's figures). */
    agentReason: z.string().optional(),
    durationS: z.number(),
  }),
  z.object({ ...base, type: z.literal('best_advanced'), exp, commit: z.string(), metric: z.number(), holdout: z.number().optional() }),
  /** The baseline's calibration runs and what they decided (plan/calibration.ts); once per run. */
  z.object({
    ...base,
    type: z.literal('calibrated'),
    exp,
    /** Which evaluation the runs calibrate; absent (logs before the holdout's calibration) is the bench. */
    stage: z.enum(['bench', 'holdout']).optional(),
    runs: z.number(),
    seeds: z.array(z.number()),
    values: z.array(z.number()),
    spread: z.number(),
    varies: z.boolean(),
    seedDetermined: z.boolean(),
    mode: z.enum(['single', 'paired']),
    repeat: z.number(),
    explicit: z.boolean(),
    minEffect: z.number().optional(),
    confidence: z.number().optional(),
  }),
  /** An experiment that ends without a verdict: interrupted, or the agent had nothing left. */
  z.object({ ...base, type: z.literal('experiment_cancelled'), exp, reason: z.string() }),
  z.object({
    ...base,
    type: z.literal('run_stopped'),
    reason: z.enum(STOP_REASONS),
    detail: z.string(),
  }),
]);

export type RunEvent = z.infer<typeof eventSchema>;
export type RunEventType = RunEvent['type'];
/** An event as the loop emits it: the envelope (`v`, `t`, `run`) is added when it is written. */
export type NewEvent = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'v' | 't' | 'run'> : never) : never;
export type EventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;

/** Parse `events.jsonl`; a torn last line (a crash mid-write) is ignored, any other bad line reported. */
export function parseEvents(text: string): { events: RunEvent[]; problems: string[] } {
  const events: RunEvent[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const isLast = index === lines.length - 1;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      if (!isLast) problems.push(`line ${index + 1}: not JSON`);
      return;
    }
    const version = (raw as { v?: unknown }).v;
    if (version !== EVENT_VERSION) {
      problems.push(`line ${index + 1}: event version ${String(version)} is not supported (this ratchet reads v${EVENT_VERSION})`);
      return;
    }
    const parsed = eventSchema.safeParse(raw);
    if (parsed.success) events.push(parsed.data);
    else problems.push(`line ${index + 1}: ${parsed.error.issues[0]?.message ?? 'invalid event'}`);
  });
  return { events, problems };
}
