/** The pieces of a stage's result: outcomes, why a command failed, the output's tail. Pure. */
import { AbortedError } from '../domain/errors.js';
import type { CommandResult } from '../domain/command-runner.js';
import type { BenchSample, EvaluationRequest, StageKind, StageOutcome, StageStatus } from '../domain/evaluation.js';
import { formatDuration } from '../domain/duration.js';
import type { StageResult } from '../domain/job.js';

/**
 * A bench slot of the worker (queue/worker.ts), taken for as long as the bench's own commands
 * run; the function it resolves to gives it back.
 */
export type BenchSlot = () => Promise<() => void>;

/**
 * Runs one stage of a request; its log goes to `<logDir>/<stage>.log`, a folder of the worker's.
 * One that `takesBenchSlot` is lent the worker's `benchSlot` and takes it itself, after its
 * worktrees are ready, so a slot waits for no checkout; any other runs holding a slot throughout.
 */
export type StageExecutor = ((request: EvaluationRequest, stage: StageKind, signal: AbortSignal, logDir: string, benchSlot?: BenchSlot) => Promise<StageResult>) & {
  takesBenchSlot?: boolean;
};

/**
 * Consulted after each bench round (a candidate run, and its parent's when A/B) with the samples
 * so far: `stop` ends the bench. At most `bench.max_repeat` rounds (or `bench.repeat`) run.
 */
export type BenchPolicy = (samples: readonly BenchSample[], request: EvaluationRequest) => 'continue' | 'stop';

/** The environment contract: every command of an evaluation sees these. */
export const RATCHET_ENV = {
  run: 'RATCHET_RUN',
  experiment: 'RATCHET_EXPERIMENT',
  worktree: 'RATCHET_WORKTREE',
  commit: 'RATCHET_COMMIT',
  stage: 'RATCHET_STAGE',
  /** `candidate` or `parent`: which side of an A/B bench (or setup) this command runs for. */
  side: 'RATCHET_SIDE',
  /** The bench's seed for this run: both runs of an A/B pair share it (plan/seeds.ts). */
  seed: 'RATCHET_SEED',
} as const;

export type Side = 'candidate' | 'parent';

export function ratchetEnv(request: EvaluationRequest & { worktree: string; parentWorktree: string | undefined }, stage: StageKind, side: Side, seed?: number): Record<string, string> {
  const parent = side === 'parent';
  return {
    ...(seed === undefined ? {} : { [RATCHET_ENV.seed]: String(seed) }),
    [RATCHET_ENV.run]: request.runId,
    [RATCHET_ENV.experiment]: request.experiment,
    [RATCHET_ENV.worktree]: (parent ? request.parentWorktree : undefined) ?? request.worktree,
    [RATCHET_ENV.commit]: (parent ? request.parentCommit : undefined) ?? request.commit,
    [RATCHET_ENV.stage]: stage,
    [RATCHET_ENV.side]: side,
  };
}

export function tailLines(output: string, lines: number): string {
  const all = output.replace(/\n+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** Why a command did not pass, or undefined when it exited 0. `verb` phrases a non-zero exit. */
export function failureOf(result: CommandResult, subject: string, timeoutMs: number, verb: 'failed' | 'exited'): { status: 'timeout' | 'failed'; reason: string } | undefined {
  if (result.aborted) throw new AbortedError();
  if (result.timedOut) return { status: 'timeout', reason: `${subject} timed out after ${formatDuration(timeoutMs)}` };
  if (result.exitCode === 0) return undefined;
  if (result.exitCode !== undefined) {
    return { status: 'failed', reason: verb === 'failed' ? `${subject} failed (exit ${result.exitCode})` : `${subject} exited ${result.exitCode}` };
  }
  if (result.signal !== undefined) return { status: 'failed', reason: `${subject} was killed by ${result.signal}` };
  const said = result.output.trim().split('\n').at(-1);
  return { status: 'failed', reason: `${subject} could not start${said === undefined || said === '' ? '' : `: ${said}`}` };
}

export function outcome(stage: StageKind, name: string, status: StageStatus, exitCode: number | undefined, durationMs: number, reason: string): StageOutcome {
  return { stage, name, status, exitCode, durationS: durationMs / 1000, reason };
}

/** The stage broke a rule of the trust boundary: the candidate is rejected, with what it did. */
export function rejectedStage(stage: StageKind, reason: string): StageResult {
  return { outcomes: [outcome(stage, stage, 'rejected', undefined, 0, reason)], failureTail: reason };
}
