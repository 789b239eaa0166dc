/**
 * The merge queue: keeps are integrated one at a time. A candidate measured on the best is
 * integrated (the best branch moves to it); one whose parent is no longer the best is re-applied
 * on the new best and evaluated again there, inside the queue, so nothing moves the best under
 * it; one that no longer applies is a `conflict`. The best branch stays a linear chain in which
 * every kept commit was measured on top of the commit before it.
 */
import type { Decision } from '../domain/decision.js';
import type { Evaluation } from '../domain/evaluation.js';
import type { CandidateCommit, Worktree } from '../domain/workspace.js';
import type { ExperimentId, Verdict } from '../domain/words.js';
import { refs } from '../domain/refs.js';
import { formatSize } from '../domain/size.js';
import { measuresParent } from '../plan/bench-plan.js';
import { mergeStep, selectParent, type Parent } from '../plan/parallel.js';
import { evaluateAndDecide, withRunRefs, type EvaluatedCandidate } from './evaluate.js';
import type { Mutex } from './mutex.js';
import type { ExperimentRecord } from './record.js';
import type { RunContext } from './run-context.js';

export interface Shared {
  /** The merge queue. */
  merge: Mutex;
}

/** What is recorded of the evaluated candidate, whichever way the merge went. */
export interface Settled {
  verdict: Verdict;
  commit: string;
  parent: string;
  evaluated: EvaluatedCandidate;
  reapplied?: ExperimentRecord['reapplied'];
  /** A verdict the merge gave instead of the evaluation's decision (conflict). */
  decision?: Decision;
}

/**
 * Settles a candidate the bench would keep; `record` writes its result (inside the queue, so the
 * next keep sees this one's best). Returns the verdict recorded.
 */
export async function settleKeep(
  run: RunContext,
  shared: Shared,
  candidate: { exp: ExperimentId; worktree: Worktree; commit: CandidateCommit; parent: Parent; evaluated: EvaluatedCandidate },
  record: (settled: Settled) => Promise<void>,
  signal: AbortSignal,
): Promise<Verdict> {
  return shared.merge.run(async () => {
    const { exp, worktree, commit, parent, evaluated } = candidate;
    const best = selectParent(run.store.getState())!;
    const step = mergeStep(parent.commit, best);
    if (step.kind === 'integrate') {
      await advanceBest(run, exp, commit.commit, best.commit, evaluated);
      await record({ verdict: 'keep', commit: commit.commit, parent: parent.commit, evaluated });
      return 'keep';
    }
    const onto = step.onto;
    const first = evaluated.evaluation.measurement?.metric;
    const reapplied = { from: commit.commit, fromParent: parent.commit, ...(first === undefined ? {} : { metric: first }), onto: onto.commit, ontoExp: onto.exp };
    const re = await run.workspace.reapply(worktree, commit.commit, onto.commit, { maxPatchBytes: run.spec.limits.max_patch_bytes });
    if (re.kind !== 'applied') {
      const reason = re.kind === 'conflict' ? `measured on ${parent.exp}, it ${re.reason} (kept by ${onto.exp})` : `measured on ${parent.exp}; the new best (kept by ${onto.exp}) already holds the whole change`;
      const verdict: Verdict = re.kind === 'conflict' ? 'conflict' : 'discard';
      await record({ verdict, commit: commit.commit, parent: parent.commit, evaluated, decision: { verdict, reason, delta: undefined, gain: undefined } });
      return verdict;
    }
    const moved = re.commit;
    await keepFirstLogs(run, exp);
    await run.store.append({ type: 'reapplied', exp, from: commit.commit, commit: moved.commit, onto: onto.commit, ontoExp: onto.exp, ...(first === undefined ? {} : { metric: first }) });
    await writePatch(run, exp, moved);
    const again = await evaluateAndDecide(run, exp, moved.commit, { commit: onto.commit, metric: onto.metric, paired: measuresParent(run.spec), holdout: onto.holdout }, signal);
    if (again.decision.verdict === 'keep') await advanceBest(run, exp, moved.commit, onto.commit, again);
    const decision = { ...again.decision, reason: `re-applied on ${onto.exp} and measured again: ${again.decision.reason}` };
    await record({ verdict: decision.verdict, commit: moved.commit, parent: onto.commit, evaluated: { ...again, decision }, reapplied });
    return decision.verdict;
  });
}

/** The best branch moves (compare-and-swap on the best it was measured on) and the log says so. */
async function advanceBest(run: RunContext, exp: ExperimentId, commit: string, from: string, evaluated: EvaluatedCandidate): Promise<void> {
  const { holdout, evaluation } = evaluated;
  const measurement: Evaluation['measurement'] = evaluation.measurement;
  await withRunRefs(run, async () => {
    await run.workspace.updateRef(refs(run.runId).best, commit, from);
    const kept = holdout?.holdout === undefined ? {} : { holdout: holdout.holdout.metric };
    await run.store.append({ type: 'best_advanced', exp, commit, metric: measurement!.metric, ...kept });
  });
}

/** The stage logs of the first measurement, kept beside those the second one writes (`first-bench.log`, …). */
export const FIRST_LOGS = ['setup.log', 'checks.log', 'bench.log', 'holdout.log'] as const;

async function keepFirstLogs(run: RunContext, exp: ExperimentId): Promise<void> {
  for (const name of FIRST_LOGS) {
    const text = await run.store.readExperimentFile(exp, name);
    if (text !== undefined) await run.store.writeExperimentFile(exp, `first-${name}`, text);
  }
}

/** `patch.diff`: the candidate's change against its parent (a note and the commit when too big). */
export async function writePatch(run: RunContext, exp: ExperimentId, candidate: CandidateCommit): Promise<void> {
  const patch = candidate.patch ?? `# ratchet: the patch is ${formatSize(candidate.patchBytes)}, over limits.max_patch_bytes; see it with: git show ${candidate.commit}\n`;
  await run.store.writeExperimentFile(exp, 'patch.diff', patch);
}
