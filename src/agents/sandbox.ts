/**
 * The sandbox an agent's commands run in: like a stage's (the worktree writable, its `.git` link,
 * the git data and every protected path read-only, nothing else of the machine), with the
 * network only for an agent CLI that must reach its model.
 */
import type { SandboxMount, SandboxRequest } from '../domain/command-runner.js';
import type { ProposalContext } from '../domain/proposal.js';
import { checkoutMounts, holdoutMounts, treeOfFiles } from '../eval/stage-sandbox.js';

export interface AgentSandboxOptions {
  network: boolean;
  /** `none` for an agent the user runs unconfined on purpose (`agent.sandbox: false`). */
  mode?: SandboxRequest['mode'];
  /** Extra mounts after the worktree's: the prompt file, the CLI's login state. */
  extra?: readonly SandboxMount[];
}

/** `files`: the worktree's tracked and untracked files (`git ls-files`), for the protected mounts. */
export function agentSandbox(context: ProposalContext, files: readonly string[], options: AgentSandboxOptions): SandboxRequest {
  const mounts = checkoutMounts({
    gitDir: context.gitDir,
    worktree: context.worktree,
    tree: treeOfFiles(files),
    protected: context.spec.protected,
    wholeFolders: true,
    sandboxPaths: context.spec.sandbox_paths,
  });
  const hide = context.spec.holdout === undefined ? [] : holdoutMounts(context.spec.holdout.dir, false);
  // The agent never sees the holdout: hidden last, after the extra mounts (a login folder the user binds could hold it).
  return { mode: options.mode ?? context.spec.sandbox, mounts: [...mounts, ...(options.extra ?? []), ...hide], network: options.network };
}
