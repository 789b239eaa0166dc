/**
 * Writing an experiment into the record, and reading back what the next proposal sees: the
 * history rows and the tail of the last failure.
 */
import type { RunContext } from './run-context.js';
import type { AgentState, HistoryRow, ProposalContext } from '../domain/proposal.js';
import type { Decision, HoldoutResult } from '../domain/decision.js';
import type { Evaluation, StageProgress } from '../domain/evaluation.js';
import type { ExperimentId, Usage, Verdict } from '../domain/words.js';
import { finishedExperiments } from '../plan/fold.js';
import { outcomePassed } from '../domain/job.js';
import type { NewEvent } from '../domain/events.js';

export interface ExperimentRecord {
  experiment: ExperimentId;
  verdict: Verdict;
  reason: string;
  description: string;
  hypothesis?: string;
  agentState?: AgentState;
  commit?: string;
  parent: string;
  metric?: number;
  delta?: number;
  gain?: number;
  secondary: Record<string, number>;
  samples?: unknown[];
  stats?: Decision['stats'];
  stages: Evaluation['stages'];
  usage?: Usage;
  failureTail?: string;
  /** The holdout's figures (for the user; the agent never sees them). */
  holdout?: HoldoutResult;
  /** What the agent's history says instead of `reason`, which names the holdout's figures. */
  agentReason?: string;
  durationS: number;
}

export function historyRows(run: RunContext): HistoryRow[] {
  return finishedExperiments(run.store.getState()).map((e) => ({
    experiment: e.id,
    verdict: e.finished!.verdict,
    metric: e.finished!.metric,
    description: e.finished!.description,
    reason: e.finished!.agentReason ?? e.finished!.reason,
    ...(e.agentState === undefined ? {} : { agentState: e.agentState }),
  }));
}

export async function lastFailure(run: RunContext): Promise<ProposalContext['lastFailure']> {
  const failed = finishedExperiments(run.store.getState())
    .reverse()
    .find((e) => e.finished !== undefined && e.finished.verdict !== 'keep' && e.finished.verdict !== 'discard');
  if (!failed?.finished) return undefined;
  let outputTail = '';
  try {
    const text = await run.store.readExperimentFile(failed.id, 'result.json');
    if (text !== undefined) outputTail = (JSON.parse(text) as { failureTail?: string }).failureTail ?? '';
  } catch {
    // an unreadable result.json: the tail is simply unknown
  }
  return { experiment: failed.id, verdict: failed.finished.verdict, reason: failed.finished.agentReason ?? failed.finished.reason, outputTail };
}

/** Record a finished experiment: result.json first, then the event (the event is the commit point). */
export async function recordFinished(run: RunContext, record: ExperimentRecord): Promise<void> {
  await run.store.writeExperimentFile(record.experiment, 'result.json', `${JSON.stringify(record, null, 2)}\n`);
  await run.store.append({
    type: 'experiment_finished',
    exp: record.experiment,
    verdict: record.verdict,
    reason: record.reason,
    description: record.description,
    ...(record.commit === undefined ? {} : { commit: record.commit }),
    parent: record.parent,
    ...(record.metric === undefined ? {} : { metric: record.metric }),
    ...(record.delta === undefined ? {} : { delta: record.delta }),
    ...(record.gain === undefined ? {} : { gain: record.gain }),
    secondary: record.secondary,
    ...(record.stats === undefined ? {} : { stats: record.stats }),
    ...(record.stats?.pairs === undefined ? {} : { pairs: Number(record.stats.pairs) }),
    ...(record.usage === undefined ? {} : { usage: record.usage }),
    ...(record.holdout === undefined ? {} : { holdout: record.holdout }),
    ...(record.agentReason === undefined ? {} : { agentReason: record.agentReason }),
    durationS: record.durationS,
  });
}

function progressEvent(exp: ExperimentId, p: StageProgress): NewEvent {
  if (p.state === 'started') return { type: 'stage_started', exp, stage: p.stage };
  const outcomes = p.outcomes ?? [];
  const failed = outcomes.find((o) => !outcomePassed(o));
  return {
    type: 'stage_finished',
    exp,
    stage: p.stage,
    status: failed?.status ?? (outcomes.length > 0 && outcomes.every((o) => o.status === 'skipped') ? 'skipped' : 'ok'),
    durationS: outcomes.reduce((s, o) => s + o.durationS, 0),
    reason: failed?.reason ?? '',
    ...(p.worker === undefined ? {} : { worker: p.worker }),
  };
}

export interface ProgressRecorder {
  /** For the queue's `onProgress`: records each stage's start and end as events, in order. */
  onProgress: (p: StageProgress) => void;
  /** Resolves once every event so far is recorded; throws the first append that failed. */
  settled: () => Promise<void>;
}

/**
 * The queue reports progress through a plain callback, so the appends it starts are kept here
 * and awaited after the evaluation: a failed append (a full disk) stops the run instead of being lost.
 */
export function progressRecorder(run: RunContext, exp: ExperimentId): ProgressRecorder {
  const pending: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  return {
    onProgress: (p) => {
      pending.push(
        run.store.append(progressEvent(exp, p)).then(
          () => undefined,
          (error: unknown) => {
            failure ??= { error };
          },
        ),
      );
    },
    settled: async () => {
      await Promise.all(pending);
      if (failure !== undefined) throw failure.error;
    },
  };
}
