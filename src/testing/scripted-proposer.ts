/**
 * The Proposer port from a script of steps, one per proposal: a change (files it writes into the
 * worktree), a failure, or `exhausted`. A proposal past the end of the script throws, so a loop
 * that asks once too often fails its test; `contexts` keeps what each proposal was shown.
 */
import type { ProposalContext, ProposalOutcome, Proposer } from '../domain/proposal.js';
import type { Usage } from '../domain/words.js';
import type { FakeWorkspace } from './fake-workspace.js';

export type ProposalStep =
  | { kind: 'change'; description: string; files: Readonly<Record<string, string>>; usage?: Usage }
  | Extract<ProposalOutcome, { kind: 'failed' | 'exhausted' }>;

export class ScriptedProposer implements Proposer {
  readonly kind = 'scripted';
  readonly contexts: ProposalContext[] = [];
  private readonly steps: ProposalStep[];

  constructor(
    private readonly workspace: FakeWorkspace,
    steps: readonly ProposalStep[],
  ) {
    this.steps = [...steps];
  }

  propose(context: ProposalContext): Promise<ProposalOutcome> {
    this.contexts.push(context);
    const step = this.steps.shift();
    if (step === undefined) return Promise.reject(new Error(`unexpected proposal for ${context.experiment}: the script has no step left`));
    if (step.kind !== 'change') return Promise.resolve(step);
    this.workspace.edit(context.worktree, step.files);
    return Promise.resolve({ kind: 'change', description: step.description, ...(step.usage === undefined ? {} : { usage: step.usage }) });
  }

  /** Steps scripted and never asked for. */
  get left(): number {
    return this.steps.length;
  }
}
