/** The proposer for a spec's agent, and the checks it needs before a run starts. */
import { UserError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command-runner.js';
import type { Proposer } from '../domain/proposal.js';
import type { Redactor } from '../util/redact.js';
import type { Spec } from '../domain/spec.js';
import { checkClaudeReady, ClaudeProposer } from './claude/index.js';
import { CommandProposer } from './command.js';
import { ReplayProposer, listPatches } from './replay.js';
import { TuneProposer, validateTuneParams } from './tune/index.js';

/**
 * Everything that can be checked about the agent before anything runs: the replay folder has
 * patches, tune's parameters are in the files and in range, claude has a key.
 * Returns warnings to show; throws a UserError for what must be fixed.
 */
export async function checkAgentReady(spec: Spec, repo: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return agentWarnings(spec, repo, env);
}

async function agentWarnings(spec: Spec, repo: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const agent = spec.agent;
  switch (agent.kind) {
    case 'replay':
      if (agent.patches === undefined) {
        throw new UserError('the replay agent needs a folder of patches', { hint: 'pass --patches DIR, or set agent.patches in ratchet.yaml' });
      }
      await listPatches(agent.patches);
      return [];
    case 'tune':
      await validateTuneParams(repo, agent.params);
      return [];
    case 'claude':
      return checkClaudeReady(spec, env).warnings;
    case 'command':
      return [];
  }
}

export interface ProposerAdapters {
  /** The one sandboxed runner, for the commands agents run. */
  runner: CommandRunner;
  /** Keeps secrets out of transcripts and what the model is shown. */
  redactor: Redactor;
}

export async function createProposer(spec: Spec, adapters: ProposerAdapters): Promise<Proposer> {
  const agent = spec.agent;
  switch (agent.kind) {
    case 'replay':
      if (agent.patches === undefined) throw new UserError('the replay agent needs --patches DIR');
      return ReplayProposer.fromFolder(agent.patches);
    case 'tune':
      return new TuneProposer(agent);
    case 'claude':
      return new ClaudeProposer(agent, adapters);
    case 'command':
      return new CommandProposer(agent, adapters);
  }
}
