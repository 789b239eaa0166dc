/**
 * One experiment, end to end: a worktree off the best, a proposal, the diff gate, the commit,
 * the evaluation, the verdict, and the record. Every experiment leaves its ref, patch and logs.
 */
import { join } from 'node:path';
import { checkPaths } from '../git/path-policy.js';
import { decide } from '../eval/decide.js';
import { isAbortError } from './errors.js';
import type { CandidateCommit, Worktree } from './ports.js';
import { refs, type RunContext } from './run-context.js';
import type { Decision, Evaluation, ExperimentId, HistoryRow, ProposalContext, StageProgress, Usage, Verdict } from './types.js';
import { finishedExperiments } from '../store/state.js';
import { readFile } from 'node:fs/promises';

export type ExperimentOutcome = { kind: 'finished'; verdict: Verdict } | { kind: 'exhausted'; reason: string } | { kind: 'interrupted' };

export interface ExperimentRecord {
  experiment: ExperimentId;
  verdict: Verdict;
  reason: string;
  description: string;
  hypothesis?: string;
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
  durationS: number;
}

export function historyRows(run: RunContext): HistoryRow[] {
  return finishedExperiments(run.store.getState()).map((e) => ({
    experiment: e.id,
    verdict: e.finished!.verdict,
    metric: e.finished!.metric,
    description: e.finished!.description,
    reason: e.finished!.reason,
  }));
}

async function lastFailure(run: RunContext): Promise<ProposalContext['lastFailure']> {
  const failed = finishedExperiments(run.store.getState())
    .reverse()
    .find((e) => e.finished !== undefined && e.finished.verdict !== 'keep' && e.finished.verdict !== 'discard');
  if (!failed?.finished) return undefined;
  let outputTail = '';
  try {
    const result = JSON.parse(await readFile(join(run.store.experimentDir(failed.id), 'result.json'), 'utf8')) as { failureTail?: string };
    outputTail = result.failureTail ?? '';
  } catch {
    // no result.json: the tail is simply unknown
  }
  return { experiment: failed.id, verdict: failed.finished.verdict, reason: failed.finished.reason, outputTail };
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
    durationS: record.durationS,
  });
}

export function progressToEvents(run: RunContext, exp: ExperimentId): (p: StageProgress) => void {
  return (p) => {
    if (p.state === 'started') {
      void run.store.append({ type: 'stage_started', exp, stage: p.stage });
      return;
    }
    const outcomes = p.outcomes ?? [];
    const failed = outcomes.find((o) => o.status !== 'ok' && o.status !== 'skipped');
    void run.store.append({
      type: 'stage_finished',
      exp,
      stage: p.stage,
      status: failed?.status ?? (outcomes.length > 0 && outcomes.every((o) => o.status === 'skipped') ? 'skipped' : 'ok'),
      durationS: outcomes.reduce((s, o) => s + o.durationS, 0),
      reason: failed?.reason ?? '',
    });
  };
}

/** Evaluate a committed candidate and decide; the caller records. */
export async function evaluateAndDecide(
  run: RunContext,
  exp: ExperimentId,
  worktree: Worktree,
  commit: string,
  parent: { commit: string; metric: number; worktree: string | undefined },
  signal: AbortSignal,
): Promise<{ evaluation: Evaluation; decision: Decision }> {
  const logDir = await run.store.ensureExperimentDir(exp);
  // The evaluator is the run's: protected files come from the base commit, whatever the candidate did.
  if (run.spec.protected.length > 0) await run.workspace.restorePaths(worktree.path, run.baseCommit, run.spec.protected);
  const evaluation = await run.queue.evaluate(
    {
      runId: run.runId,
      experiment: exp,
      worktree: worktree.path,
      commit,
      parentWorktree: parent.worktree,
      parentCommit: parent.commit,
      logDir,
      spec: run.spec,
      baseCommit: run.baseCommit,
    },
    signal,
    progressToEvents(run, exp),
  );
  if (run.spec.protected.length > 0) {
    const touched = await run.workspace.diffPaths(worktree.path, run.baseCommit, run.spec.protected);
    if (touched.length > 0) {
      return {
        evaluation,
        decision: { verdict: 'rejected', reason: `changed protected path ${touched[0]} while it ran`, delta: undefined, gain: undefined },
      };
    }
  }
  return { evaluation, decision: decide({ bench: run.spec.bench, best: parent.metric, evaluation }) };
}

/** Gate a committed change: size limits and the editable/protected policy. */
export function gateChange(run: RunContext, candidate: CandidateCommit): string | undefined {
  const policy = checkPaths(candidate.files, { editable: run.spec.editable, protected: run.spec.protected });
  if (!policy.ok) return policy.reason;
  const { max_changed_files: maxFiles, max_diff_lines: maxLines } = run.spec.limits;
  if (candidate.files.length > maxFiles) return `changes ${candidate.files.length} files, more than limits.max_changed_files (${maxFiles})`;
  const lines = candidate.insertions + candidate.deletions;
  if (lines > maxLines) return `changes ${lines} lines, more than limits.max_diff_lines (${maxLines})`;
  return undefined;
}

export async function runExperiment(
  run: RunContext,
  exp: ExperimentId,
  best: { exp: ExperimentId; commit: string; metric: number },
  parentWorktree: string | undefined,
  signal: AbortSignal,
): Promise<ExperimentOutcome> {
  const started = Date.now();
  const r = refs(run.runId);
  await run.store.append({ type: 'experiment_started', exp, parent: best.commit, parentExp: best.exp });
  const worktree = await run.workspace.createWorktree({ ref: r.experiment(exp), commit: best.commit, name: exp });
  const seconds = (): number => Math.round((Date.now() - started) / 100) / 10;
  const base = { experiment: exp, parent: best.commit, secondary: {}, stages: [] };
  try {
    const experimentDir = await run.store.ensureExperimentDir(exp);
    let setupMade: ReadonlySet<string> | undefined;
    if (run.prepareWorktree) {
      await run.prepareWorktree(worktree.path, experimentDir, signal);
      // Whatever setup left behind (node_modules, build output, links) is not the agent's change.
      setupMade = new Set(await run.workspace.changedPaths(worktree.path));
    }
    const outcome = await run.proposer.propose(
      {
        runId: run.runId,
        experiment: exp,
        worktree: worktree.path,
        parentCommit: best.commit,
        spec: run.spec,
        objective: run.objective,
        history: historyRows(run),
        best: { experiment: best.exp, commit: best.commit, metric: best.metric },
        lastFailure: await lastFailure(run),
        experimentDir,
      },
      signal,
    );
    if (signal.aborted) return await cancel(run, exp, 'interrupted');
    if (outcome.kind === 'exhausted') {
      await cancel(run, exp, outcome.reason);
      return { kind: 'exhausted', reason: outcome.reason };
    }
    if (outcome.kind === 'failed') {
      await run.store.append({ type: 'proposed', exp, description: outcome.reason, ...(outcome.usage ? { usage: outcome.usage } : {}) });
      await recordFinished(run, {
        ...base,
        verdict: outcome.verdict,
        reason: outcome.reason,
        description: `(agent failed) ${outcome.reason}`,
        ...(outcome.usage ? { usage: outcome.usage } : {}),
        ...(outcome.outputTail ? { failureTail: outcome.outputTail } : {}),
        durationS: seconds(),
      });
      return { kind: 'finished', verdict: outcome.verdict };
    }
    const described = { description: outcome.description, ...(outcome.hypothesis ? { hypothesis: outcome.hypothesis } : {}) };
    await run.store.append({ type: 'proposed', exp, ...described, ...(outcome.usage ? { usage: outcome.usage } : {}) });
    const usage = outcome.usage ? { usage: outcome.usage } : {};
    const candidate = await run.workspace.commitAll(worktree, outcome.description, setupMade ? { exclude: setupMade } : {});
    if (candidate === undefined) {
      await recordFinished(run, { ...base, ...described, ...usage, verdict: 'rejected', reason: 'empty diff: the agent changed nothing', durationS: seconds() });
      return { kind: 'finished', verdict: 'rejected' };
    }
    await run.store.writeExperimentFile(exp, 'patch.diff', candidate.patch);
    await run.store.append({ type: 'committed', exp, commit: candidate.commit, files: candidate.files, insertions: candidate.insertions, deletions: candidate.deletions });
    const gate = gateChange(run, candidate);
    if (gate !== undefined) {
      await recordFinished(run, { ...base, ...described, ...usage, commit: candidate.commit, verdict: 'rejected', reason: gate, durationS: seconds() });
      return { kind: 'finished', verdict: 'rejected' };
    }
    const { evaluation, decision } = await evaluateAndDecide(
      run,
      exp,
      worktree,
      candidate.commit,
      { commit: best.commit, metric: best.metric, worktree: parentWorktree },
      signal,
    );
    if (decision.verdict === 'keep') {
      await run.workspace.updateRef(r.best, candidate.commit, best.commit);
      await run.store.append({ type: 'best_advanced', exp, commit: candidate.commit, metric: evaluation.measurement!.metric });
    }
    await recordFinished(run, {
      ...base,
      ...described,
      ...usage,
      commit: candidate.commit,
      verdict: decision.verdict,
      reason: decision.reason,
      ...(evaluation.measurement ? { metric: evaluation.measurement.metric, secondary: evaluation.measurement.secondary, samples: evaluation.measurement.samples } : {}),
      ...(decision.delta === undefined ? {} : { delta: decision.delta }),
      ...(decision.gain === undefined ? {} : { gain: decision.gain }),
      ...(decision.stats ? { stats: decision.stats } : {}),
      stages: evaluation.stages,
      ...(evaluation.failureTail ? { failureTail: evaluation.failureTail } : {}),
      durationS: seconds(),
    });
    return { kind: 'finished', verdict: decision.verdict };
  } catch (error) {
    if (isAbortError(error) || signal.aborted) return await cancel(run, exp, 'interrupted');
    throw error;
  } finally {
    if (run.keepWorktrees !== true) await run.workspace.removeWorktree(worktree.path).catch(() => undefined);
  }
}

async function cancel(run: RunContext, exp: ExperimentId, reason: string): Promise<{ kind: 'interrupted' }> {
  await run.store.append({ type: 'experiment_cancelled', exp, reason });
  return { kind: 'interrupted' };
}
