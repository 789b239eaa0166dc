/**
 * The one place adapters are built: the command runner (with the sandbox and the redactor),
 * the checkout guard, the stage executor a worker runs, the proposer. Every command a candidate
 * can influence goes through the runner made here.
 */
import { tmpdir } from 'node:os';
import { createProposer } from '../agents/factory.js';
import { UserError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command-runner.js';
import type { BenchSample } from '../domain/evaluation.js';
import type { Proposer } from '../domain/proposal.js';
import { adaptivePolicy } from '../plan/adaptive.js';
import { benchPlan } from '../plan/bench-plan.js';
import { createStageExecutor, type StageExecutor } from '../eval/stages.js';
import { GitCheckoutGuard } from '../git/checkout-guard.js';
import { WorkerCheckouts } from '../git/eval-checkouts.js';
import { git } from '../git/exec.js';
import { remoteClones } from '../git/remote.js';
import type { EvalCheckouts } from '../domain/checkout-guard.js';
import { ExecaCommandRunner } from '../proc/run-command.js';
import { probeBwrap, readSandboxHost, unsandboxedNotice } from '../proc/sandbox.js';
import type { Spec } from '../domain/spec.js';
import { createRedactor, secretsOf, type Redactor } from '../util/redact.js';

/** Secrets of ratchet's own environment, plus any the caller adds (a Redis password, a signing key). */
export function processRedactor(extra: readonly { name: string; value: string }[] = [], env: NodeJS.ProcessEnv = process.env): Redactor {
  return createRedactor([...secretsOf(env), ...extra]);
}

export function createRunner(redactor: Redactor, env: NodeJS.ProcessEnv = process.env): CommandRunner {
  return new ExecaCommandRunner({ baseEnv: env, sandboxHost: readSandboxHost(env), redactor });
}

/**
 * What `sandbox:` means on this machine: a notice when `auto` finds no working bubblewrap, a
 * UserError when `bwrap` was asked for and it does not work.
 */
export async function resolveSandbox(mode: Spec['sandbox']): Promise<{ sandboxed: boolean; notice?: string }> {
  if (mode === 'none') return { sandboxed: false };
  const probe = await probeBwrap();
  if (probe.ok) return { sandboxed: true };
  if (mode === 'bwrap') {
    throw new UserError(`sandbox: bwrap, but ${probe.reason}`, {
      hint: 'install bubblewrap (apt-get install bubblewrap), or set sandbox: auto (or none) in ratchet.yaml to run unsandboxed',
    });
  }
  return { sandboxed: false, notice: unsandboxedNotice(probe.reason) };
}

/**
 * The worktrees a worker makes for its jobs: in the run's repository when it can see it, else in
 * its clone of the run's remote, kept in `workdir` (`repos/`, one per remote URL).
 */
export function createWorkerCheckouts(workdir: string): EvalCheckouts {
  return new WorkerCheckouts({ remotes: remoteClones(workdir) });
}

/**
 * A worker process made ready before it says it serves: the sandbox probed, git's helper
 * process started, so its first job pays for neither (with many workers starting at once on few
 * cores, the first jobs were most of a run's start). Says whether commands will be sandboxed.
 */
export async function readyWorkerProcess(): Promise<{ sandboxed: true } | { sandboxed: false; reason: string }> {
  const [probe] = await Promise.all([probeBwrap(), git(['--version'], { cwd: tmpdir() }).catch(() => undefined)]);
  return probe.ok ? { sandboxed: true } : { sandboxed: false, reason: probe.reason };
}

/** The stage executor every worker runs: in-process in `ratchet run`, or in `ratchet worker`. */
export function createWorkerExecutor(runner: CommandRunner, checkouts: EvalCheckouts): StageExecutor {
  return createStageExecutor(runner, new GitCheckoutGuard(), checkouts, {
    // The runner resolves `sandbox: auto` with the same probe, once per process.
    sandboxWorks: async () => (await probeBwrap()).ok,
    // The policy comes from the run's own spec, which travels with each job, so one worker serves
    // runs with different settings. Only A/B benches adapt; anything else (repeat: 1, a baseline
    // with no parent) runs the candidate exactly `rounds` times, though the executor would allow more.
    policy: (samples, request) => {
      const bench = request.spec.bench;
      const plan = benchPlan(bench, { parent: request.parentCommit !== undefined });
      if (plan.paired) return adaptivePolicy(bench)([...samples] as BenchSample[]);
      return samples.filter((s) => s.side === 'candidate').length >= plan.rounds ? 'stop' : 'continue';
    },
  });
}

export function createRunProposer(spec: Spec, runner: CommandRunner, redactor: Redactor): Promise<Proposer> {
  return createProposer(spec, { runner, redactor });
}
