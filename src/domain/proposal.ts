/**
 * What the loop asks of an agent and what it gets back. Adapters (claude, command, tune, replay)
 * implement `Proposer` in src/agents.
 */
import type { Spec } from './spec.js';
import type { ExperimentId, Usage, Verdict } from './words.js';

/**
 * What an agent remembers of one proposal besides its description (the tune agent's search
 * state): plain JSON the loop records and gives back in the history, never reads. By
 * convention `{ agent: <kind>, v: <version>, … }`, so the agent can tell its own and its version.
 */
export type AgentState = Record<string, unknown>;

/** One row of the history a proposer sees. */
export interface HistoryRow {
  experiment: ExperimentId;
  verdict: Verdict;
  metric: number | undefined;
  description: string;
  /** The verdict's reason as the agent may see it: without the holdout's figures (`agentReason`). */
  reason: string;
  /** What the agent recorded with this proposal, when it did. */
  agentState?: AgentState;
}

/** An experiment still in flight while another is proposed: what it tries, and where it is. */
export interface InFlightRow {
  experiment: ExperimentId;
  /** Its description once proposed; empty while its agent is still working. */
  description: string;
  /** `proposing`, `setup`, `checks`, `bench`, `holdout` or `deciding`. */
  phase: string;
  agentState?: AgentState;
}

export interface ProposalContext {
  runId: string;
  experiment: ExperimentId;
  /** Absolute path of the experiment's worktree, checked out at `parentCommit`. */
  worktree: string;
  parentCommit: string;
  spec: Spec;
  /** The objective as prose (a file objective already read). */
  objective: string;
  /** Every finished experiment of the run, oldest first, the baseline included. */
  history: readonly HistoryRow[];
  /**
   * The other experiments in flight (`agent.parallel` > 1), oldest first, so an agent does not
   * try the same idea twice at once. Absent (older callers) means none.
   */
  inFlight?: readonly InFlightRow[];
  best: { experiment: ExperimentId; metric: number; commit: string };
  /** Tail of the output of the most recent failed experiment, if any. */
  lastFailure: { experiment: ExperimentId; verdict: Verdict; reason: string; outputTail: string } | undefined;
  /** Where the agent may write its transcript and scratch files (the experiment's run folder). */
  experimentDir: string;
  /** The repository's common git dir: read-only in the sandbox of the agent's commands. */
  gitDir: string;
}

export type ProposalOutcome =
  /** The agent changed the worktree; the orchestrator validates and commits the change. */
  | { kind: 'change'; description: string; hypothesis?: string; usage?: Usage; agentState?: AgentState }
  /** The agent could not produce a change (a patch that does not apply, an API failure). */
  | { kind: 'failed'; verdict: 'rejected' | 'crash' | 'timeout'; reason: string; usage?: Usage; outputTail?: string; agentState?: AgentState }
  /** Nothing left to propose (replay ran out of patches): the run ends normally. */
  | { kind: 'exhausted'; reason: string };

export interface Proposer {
  readonly kind: string;
  propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome>;
}
