/**
 * The tune agent: no model, no network. Reads the current best's values from the worktree,
 * asks the pure search for the next point given the run's history, writes it into the files.
 */
import { throwIfAborted } from '../../domain/errors.js';
import type { ProposalContext, ProposalOutcome, Proposer } from '../../domain/proposal.js';
import type { AgentSpec } from '../../domain/spec.js';
import { locateParams, writeValues } from './locate.js';
import { nextPoint } from './search.js';
import { pointKey } from './space.js';

export type TuneAgentSpec = Extract<AgentSpec, { kind: 'tune' }>;

export class TuneProposer implements Proposer {
  readonly kind = 'tune';
  /** Points proposed by this process and maybe still in flight (`parallel` > 1): never twice. */
  private readonly pending = new Set<string>();

  constructor(private readonly spec: TuneAgentSpec) {}

  async propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome> {
    throwIfAborted(signal);
    const located = await locateParams(context.worktree, this.spec.params);
    const dims = located.map((l) => l.dimension);
    const center = located.map((l) => l.literal);
    const step = nextPoint(dims, center, context.history, { seed: this.spec.seed, pending: this.pending });
    if (step.kind === 'exhausted') return { kind: 'exhausted', reason: step.reason };
    throwIfAborted(signal);
    this.pending.add(pointKey(step.point.to));
    await writeValues(context.worktree, located, step.point.to);
    const changed = step.point.moves.map((m) => dims[m.param]!.label).join(', ');
    return {
      kind: 'change',
      description: step.description,
      hypothesis: `a step of ${changed} from the current best improves ${context.spec.bench.metric.name}`,
      agentState: step.state,
    };
  }
}
