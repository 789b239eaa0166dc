/**
 * One experiment, end to end: a worktree off the best, a proposal, the checks of what the agent
 * did to the repository, the diff gate, the commit, the evaluation, the verdict, and the record.
 * Every experiment leaves its ref, patch and logs.
 */
import { join } from 'node:path';
import { isAbortError } from '../domain/errors.js';
import { refs } from '../domain/refs.js';
import type { RepoSnapshot, Worktree } from '../domain/workspace.js';
import type { ExperimentId, Verdict } from '../domain/words.js';
import { gateChange } from '../plan/gate.js';
import type { Parent } from '../plan/parallel.js';
import { measuresParent } from '../plan/bench-plan.js';
import { evaluateAndDecide, holdoutFields, putBackRunRefs } from './evaluate.js';
import { settleKeep, writePatch, type Settled, type Shared } from './merge.js';
import { historyRows, inFlightRows, lastFailure, recordFinished } from './record.js';
import type { RunContext } from './run-context.js';

export type ExperimentOutcome = { kind: 'finished'; verdict: Verdict } | { kind: 'exhausted'; reason: string } | { kind: 'interrupted' };

/**
 * What the agent did beyond its worktree's files: one reason, or undefined. Undone as it goes.
 * `before` is undefined for a confined agent, which could not write the repository.
 */
async function agentViolation(run: RunContext, exp: ExperimentId, worktree: Worktree, before: RepoSnapshot | undefined): Promise<string | undefined> {
  const problems: string[] = [];
  if (!(await run.workspace.worktreeLinkOk(worktree.path))) problems.push("the agent deleted or corrupted its worktree's git link (.git)");
  if (before === undefined) return problems[0];
  const aside = join(run.store.experimentDir(exp), 'agent-checkout');
  const undone = [...(await run.workspace.undoRepoChanges(before, { aside })), ...(await putBackRunRefs(run, exp))];
  if (undone.length > 0) problems.push(`the agent ${undone.slice(0, 3).join(', ')}${undone.length > 3 ? ', …' : ''} (put back)`);
  return problems.length === 0 ? undefined : problems.join('; ');
}

/**
 * Runs experiment `exp` (its `experiment_started` already recorded, with `best` as its parent)
 * to its verdict; a would-be keep goes through the merge queue. Safe to run several at once.
 */
export async function runExperiment(run: RunContext, exp: ExperimentId, best: Parent, shared: Shared, signal: AbortSignal): Promise<ExperimentOutcome> {
  const now = run.now;
  const started = now();
  const r = refs(run.runId);
  const indexTrusted = run.agentConfined === true;
  const worktree = await run.workspace.createWorktree({ ref: r.experiment(exp), commit: best.commit, name: exp, indexTrusted });
  const seconds = (): number => Math.round((now() - started) / 100) / 10;
  const base = { experiment: exp, parent: best.commit, secondary: {}, stages: [] };
  try {
    const experimentDir = await run.store.ensureExperimentDir(exp);
    let setupMade: ReadonlySet<string> | undefined;
    if (run.prepareWorktree) {
      await run.prepareWorktree(worktree.path, experimentDir, signal);
      // Whatever setup left behind (node_modules, build output, links) is not the agent's change.
      setupMade = new Set(await run.workspace.changedPaths(worktree.path));
    }
    const repoBefore = indexTrusted ? undefined : await run.workspace.snapshotRepo({ checkout: run.agentUnconfined === true });
    const outcome = await run.proposer.propose(
      {
        runId: run.runId,
        experiment: exp,
        worktree: worktree.path,
        parentCommit: best.commit,
        spec: run.spec,
        objective: run.objective,
        history: historyRows(run),
        inFlight: inFlightRows(run, exp),
        best: { experiment: best.exp, commit: best.commit, metric: best.metric },
        lastFailure: await lastFailure(run),
        experimentDir,
        gitDir: run.workspace.gitDir,
      },
      signal,
    );
    if (signal.aborted) return await cancel(run, exp, 'interrupted');
    const violation = await agentViolation(run, exp, worktree, repoBefore);
    if (violation !== undefined) {
      const description = outcome.kind === 'change' ? outcome.description : `(agent failed) ${outcome.reason}`;
      const state = outcome.kind !== 'exhausted' && outcome.agentState !== undefined ? { agentState: outcome.agentState } : {};
      await run.store.append({ type: 'proposed', exp, description, ...state });
      await recordFinished(run, { ...base, description, verdict: 'rejected', reason: violation, durationS: seconds() });
      return { kind: 'finished', verdict: 'rejected' };
    }
    if (outcome.kind === 'exhausted') {
      await cancel(run, exp, outcome.reason);
      return { kind: 'exhausted', reason: outcome.reason };
    }
    if (outcome.kind === 'failed') {
      const state = outcome.agentState === undefined ? {} : { agentState: outcome.agentState };
      await run.store.append({ type: 'proposed', exp, description: outcome.reason, ...(outcome.usage ? { usage: outcome.usage } : {}), ...state });
      await recordFinished(run, {
        ...base,
        ...state,
        verdict: outcome.verdict,
        reason: outcome.reason,
        description: `(agent failed) ${outcome.reason}`,
        ...(outcome.usage ? { usage: outcome.usage } : {}),
        ...(outcome.outputTail ? { failureTail: outcome.outputTail } : {}),
        durationS: seconds(),
      });
      return { kind: 'finished', verdict: outcome.verdict };
    }
    const described = { description: outcome.description, ...(outcome.hypothesis ? { hypothesis: outcome.hypothesis } : {}), ...(outcome.agentState ? { agentState: outcome.agentState } : {}) };
    await run.store.append({ type: 'proposed', exp, ...described, ...(outcome.usage ? { usage: outcome.usage } : {}) });
    const usage = outcome.usage ? { usage: outcome.usage } : {};
    const candidate = await run.workspace.commitAll(worktree, outcome.description, {
      ...(setupMade ? { exclude: setupMade } : {}),
      maxPatchBytes: run.spec.limits.max_patch_bytes,
      indexTrusted,
    });
    if (candidate === undefined) {
      await recordFinished(run, { ...base, ...described, ...usage, verdict: 'rejected', reason: 'empty diff: the agent changed nothing', durationS: seconds() });
      return { kind: 'finished', verdict: 'rejected' };
    }
    // Too big to keep as a file: the commit on the experiment's ref still holds all of it.
    await writePatch(run, exp, candidate);
    await run.store.append({ type: 'committed', exp, commit: candidate.commit, files: candidate.files, insertions: candidate.insertions, deletions: candidate.deletions });
    const gate = gateChange(run.spec, candidate);
    if (gate !== undefined) {
      await recordFinished(run, { ...base, ...described, ...usage, commit: candidate.commit, verdict: 'rejected', reason: gate, durationS: seconds() });
      return { kind: 'finished', verdict: 'rejected' };
    }
    // The worker checks the parent out beside the candidate when the bench or holdout is paired.
    const evaluated = await evaluateAndDecide(run, exp, candidate.commit, { commit: best.commit, metric: best.metric, paired: measuresParent(run.spec), holdout: best.holdout }, signal);
    const record = async (settled: Settled): Promise<void> => {
      const { evaluation, holdout } = settled.evaluated;
      const decision = settled.decision ?? settled.evaluated.decision;
      await recordFinished(run, {
        ...base,
        ...described,
        ...usage,
        commit: settled.commit,
        parent: settled.parent,
        verdict: settled.verdict,
        reason: decision.reason,
        ...(evaluation.measurement ? { metric: evaluation.measurement.metric, secondary: evaluation.measurement.secondary, samples: evaluation.measurement.samples } : {}),
        ...(decision.delta === undefined ? {} : { delta: decision.delta }),
        ...(decision.gain === undefined ? {} : { gain: decision.gain }),
        ...(decision.stats ? { stats: decision.stats } : {}),
        ...holdoutFields(holdout),
        ...(settled.reapplied === undefined ? {} : { reapplied: settled.reapplied }),
        stages: [...evaluation.stages, ...(holdout?.stages ?? [])],
        // The holdout's output is never a failure tail: the next proposal would show it to the agent.
        ...(evaluation.failureTail ? { failureTail: evaluation.failureTail } : {}),
        durationS: seconds(),
      });
    };
    if (evaluated.decision.verdict === 'keep') {
      const verdict = await settleKeep(run, shared, { exp, worktree, commit: candidate, parent: best, evaluated }, record, signal);
      return { kind: 'finished', verdict };
    }
    await record({ verdict: evaluated.decision.verdict, commit: candidate.commit, parent: best.commit, evaluated });
    return { kind: 'finished', verdict: evaluated.decision.verdict };
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
