/** What every step of a run needs: the adapters behind their interfaces, the spec, the store. */
import type { Spec } from '../domain/spec.js';
import type { Store } from '../domain/store.js';
import type { Workspace } from '../domain/workspace.js';
import type { CommitSource, EvaluationQueue } from '../domain/evaluation.js';
import type { Proposer } from '../domain/proposal.js';

export interface RunContext {
  runId: string;
  spec: Spec;
  objective: string;
  baseCommit: string;
  store: Store;
  workspace: Workspace;
  queue: EvaluationQueue;
  proposer: Proposer;
  /** Where workers get the commits; default: the workspace's repository, as a local path. */
  commitSource?: CommitSource;
  /**
   * Run the spec's setup in a fresh worktree before the agent works there (model-driven agents
   * run the checks themselves). What it creates is excluded from the candidate's change.
   */
  prepareWorktree?: (worktree: string, logDir: string, signal: AbortSignal) => Promise<void>;
  /** Keep experiment worktrees on disk after they finish (for debugging). */
  keepWorktrees?: boolean;
  /**
   * The agent runs commands outside the sandbox (none here, `sandbox: none`, or a command agent
   * with `sandbox: false`): the user's checkout is then watched while it proposes.
   */
  agentUnconfined?: boolean;
  /**
   * Every command in an agent's worktree (setup before the agent, the agent's own) runs in the
   * sandbox, where the git data is read-only: an agent can move no ref, plant no hook and write
   * no index, so the repository is not snapshotted around it and its worktree's index is
   * ratchet's alone (CommitOptions.indexTrusted).
   */
  agentConfined?: boolean;
  /** The clock, for durations and the duration budget (tests script it). */
  now: () => number;
}
