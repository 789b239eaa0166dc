/**
 * Runs one stage (setup, checks or bench) of one EvaluationRequest through a CommandRunner and
 * maps what happened to outcomes: failures are data, only an abort throws.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { maxPairs } from './noise-decision.js';
import { median } from './stats.js';
import { AbortedError, throwIfAborted } from '../core/errors.js';
import type { CommandResult, CommandRunner } from '../core/ports.js';
import type { BenchSample, EvaluationRequest, Measurement, StageKind, StageOutcome, StageStatus } from '../core/types.js';
import { formatDuration } from '../spec/duration.js';
import { readMetric, readSecondary } from './metric.js';

export interface StageResult {
  outcomes: StageOutcome[];
  measurement?: Measurement;
  /** Last lines of the failing command's output. */
  failureTail?: string;
}

export type StageExecutor = (request: EvaluationRequest, stage: StageKind, signal: AbortSignal) => Promise<StageResult>;

/**
 * Consulted after each bench round (a candidate run, and its parent's when A/B) with the samples
 * so far: `stop` ends the bench. At most `bench.max_repeat` rounds (or `bench.repeat`) run.
 */
export type BenchPolicy = (samples: readonly BenchSample[], request: EvaluationRequest) => 'continue' | 'stop';

export interface StageExecutorOptions {
  /** Adaptive stopping; without one the bench runs exactly `bench.repeat` rounds. */
  policy?: BenchPolicy;
  /** Lines of output kept as `failureTail`. */
  tailLines?: number;
}

/** The environment contract: every command of an evaluation sees these. */
export const RATCHET_ENV = {
  run: 'RATCHET_RUN',
  experiment: 'RATCHET_EXPERIMENT',
  worktree: 'RATCHET_WORKTREE',
  commit: 'RATCHET_COMMIT',
  stage: 'RATCHET_STAGE',
  /** `candidate` or `parent`: which side of an A/B bench (or setup) this command runs for. */
  side: 'RATCHET_SIDE',
} as const;

type Side = 'candidate' | 'parent';

export function ratchetEnv(request: EvaluationRequest, stage: StageKind, side: Side): Record<string, string> {
  const parent = side === 'parent';
  return {
    [RATCHET_ENV.run]: request.runId,
    [RATCHET_ENV.experiment]: request.experiment,
    [RATCHET_ENV.worktree]: (parent ? request.parentWorktree : undefined) ?? request.worktree,
    [RATCHET_ENV.commit]: (parent ? request.parentCommit : undefined) ?? request.commit,
    [RATCHET_ENV.stage]: stage,
    [RATCHET_ENV.side]: side,
  };
}

/** A/B benches need a parent and more than one measurement. */
export function isAB(request: EvaluationRequest): boolean {
  return request.parentWorktree !== undefined && request.spec.bench.repeat > 1;
}

export function tailLines(output: string, lines: number): string {
  const all = output.replace(/\n+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** Why a command did not pass, or undefined when it exited 0. `verb` phrases a non-zero exit. */
function failureOf(result: CommandResult, subject: string, timeoutMs: number, verb: 'failed' | 'exited'): { status: 'timeout' | 'failed'; reason: string } | undefined {
  if (result.aborted) throw new AbortedError();
  if (result.timedOut) return { status: 'timeout', reason: `${subject} timed out after ${formatDuration(timeoutMs)}` };
  if (result.exitCode === 0) return undefined;
  if (result.exitCode !== undefined) {
    return { status: 'failed', reason: verb === 'failed' ? `${subject} failed (exit ${result.exitCode})` : `${subject} exited ${result.exitCode}` };
  }
  if (result.signal !== undefined) return { status: 'failed', reason: `${subject} was killed by ${result.signal}` };
  return { status: 'failed', reason: `${subject} could not start` };
}

function outcome(stage: StageKind, name: string, status: StageStatus, exitCode: number | undefined, durationMs: number, reason: string): StageOutcome {
  return { stage, name, status, exitCode, durationS: durationMs / 1000, reason };
}

export function createStageExecutor(runner: CommandRunner, options: StageExecutorOptions = {}): StageExecutor {
  const keepLines = options.tailLines ?? 60;
  // Successful setups by `worktree@commit`: a parent set up once (often when it was itself the
  // candidate) is not set up again by every candidate built on it, and concurrent candidates
  // share one setup instead of racing in the same folder.
  const setups = new Map<string, Promise<boolean>>();

  const exec = (request: EvaluationRequest, stage: StageKind, side: Side, command: string, timeoutMs: number, log: string, signal: AbortSignal): Promise<CommandResult> => {
    throwIfAborted(signal);
    return runner.run({
      command,
      cwd: side === 'parent' && request.parentWorktree !== undefined ? request.parentWorktree : request.worktree,
      timeoutMs,
      logFile: log,
      env: ratchetEnv(request, stage, side),
      allowEnv: request.spec.env,
      signal,
    });
  };

  const note = async (log: string, text: string): Promise<void> => {
    await appendFile(log, `\n==> ${text}\n`);
  };

  async function setup(request: EvaluationRequest, signal: AbortSignal): Promise<StageResult> {
    const command = request.spec.setup;
    if (command === undefined || command.trim() === '') {
      return { outcomes: [outcome('setup', 'setup', 'skipped', undefined, 0, 'no setup command')] };
    }
    const log = join(request.logDir, 'setup.log');
    const timeoutMs = request.spec.setup_timeout;
    await note(log, `setup in the candidate worktree (${request.experiment} at ${request.commit})`);
    const own = await exec(request, 'setup', 'candidate', command, timeoutMs, log, signal);
    const ownFailure = failureOf(own, 'setup', timeoutMs, 'failed');
    if (ownFailure !== undefined) {
      return { outcomes: [outcome('setup', 'setup', ownFailure.status, own.exitCode, own.durationMs, ownFailure.reason)], failureTail: tailLines(own.output, keepLines) };
    }
    setups.set(`${request.worktree}@${request.commit}`, Promise.resolve(true));
    if (!isAB(request) || request.parentWorktree === undefined) {
      return { outcomes: [outcome('setup', 'setup', 'ok', own.exitCode, own.durationMs, 'setup passed')] };
    }

    const key = `${request.parentWorktree}@${request.parentCommit ?? ''}`;
    const prior = setups.get(key);
    if (prior !== undefined && (await prior)) {
      await note(log, `setup in the parent worktree: already done by this worker`);
      return { outcomes: [outcome('setup', 'setup', 'ok', own.exitCode, own.durationMs, 'setup passed; the parent worktree was already set up')] };
    }
    await note(log, `setup in the parent worktree (${request.parentCommit ?? 'parent'} at ${request.parentWorktree})`);
    const running = exec(request, 'setup', 'parent', command, timeoutMs, log, signal);
    const succeeded = running.then((r) => r.exitCode === 0 && !r.timedOut && !r.aborted, () => false);
    setups.set(key, succeeded);
    const parent = await running;
    const durationMs = own.durationMs + parent.durationMs;
    const parentFailure = (await succeeded) ? undefined : failureOf(parent, 'setup in the parent worktree', timeoutMs, 'failed');
    if (parentFailure !== undefined) {
      if (setups.get(key) === succeeded) setups.delete(key);
      return { outcomes: [outcome('setup', 'setup', parentFailure.status, parent.exitCode, durationMs, parentFailure.reason)], failureTail: tailLines(parent.output, keepLines) };
    }
    return { outcomes: [outcome('setup', 'setup', 'ok', own.exitCode, durationMs, 'setup passed in the candidate and parent worktrees')] };
  }

  async function checks(request: EvaluationRequest, signal: AbortSignal): Promise<StageResult> {
    const log = join(request.logDir, 'checks.log');
    const all = request.spec.checks;
    const outcomes: StageOutcome[] = [];
    for (const [i, check] of all.entries()) {
      await note(log, `check "${check.name}" (${i + 1}/${all.length})`);
      const result = await exec(request, 'checks', 'candidate', check.run, check.timeout, log, signal);
      const failure = failureOf(result, `check "${check.name}"`, check.timeout, 'failed');
      if (failure === undefined) {
        outcomes.push(outcome('checks', check.name, 'ok', result.exitCode, result.durationMs, `check "${check.name}" passed`));
        continue;
      }
      outcomes.push(outcome('checks', check.name, failure.status, result.exitCode, result.durationMs, failure.reason));
      for (const rest of all.slice(i + 1)) {
        outcomes.push(outcome('checks', rest.name, 'skipped', undefined, 0, `skipped after check "${check.name}" did not pass`));
      }
      return { outcomes, failureTail: tailLines(result.output, keepLines) };
    }
    return { outcomes };
  }

  async function bench(request: EvaluationRequest, signal: AbortSignal): Promise<StageResult> {
    const spec = request.spec.bench;
    const log = join(request.logDir, 'bench.log');
    const sides: Side[] = isAB(request) ? ['candidate', 'parent'] : ['candidate'];
    const secondaryNames = [...spec.constraints.map((c) => ({ name: c.metric, pattern: c.pattern })), 'memory_gb', 'peak_vram_mb'];
    const policy = options.policy;
    // An adaptive policy may extend a borderline candidate up to max_repeat (default 3× repeat).
    const maxRounds = policy === undefined ? spec.repeat : maxPairs(spec);
    const samples: BenchSample[] = [];
    let durationMs = 0;
    let exitCode: number | undefined;

    const crash = (status: 'crash' | 'timeout', reason: string, output: string): StageResult => ({
      outcomes: [outcome('bench', 'bench', status, exitCode, durationMs, reason)],
      failureTail: tailLines(output, keepLines),
    });
    // One run of one side; a StageResult when it failed.
    const runOnce = async (side: Side, label: string, record: boolean): Promise<StageResult | undefined> => {
      const commit = side === 'parent' ? (request.parentCommit ?? 'parent') : request.commit;
      await note(log, `bench ${label} (${side}, ${commit})`);
      const result = await exec(request, 'bench', side, spec.run, spec.timeout, log, signal);
      durationMs += result.durationMs;
      exitCode = result.exitCode;
      const suffix = side === 'parent' ? ' (parent)' : '';
      const failure = failureOf(result, 'bench', spec.timeout, 'exited');
      if (failure !== undefined) return crash(failure.status === 'timeout' ? 'timeout' : 'crash', failure.reason + suffix, result.output);
      if (!record) return undefined;
      const reading = readMetric(result.output, spec.metric);
      if (!reading.ok) return crash('crash', reading.reason + suffix, result.output);
      samples.push({ side, metric: reading.value, secondary: readSecondary(result.output, secondaryNames) });
      return undefined;
    };

    for (let i = 1; i <= spec.warmup; i++) {
      for (const side of sides) {
        const failed = await runOnce(side, `warmup ${i}/${spec.warmup}`, false);
        if (failed !== undefined) return failed;
      }
    }
    for (let round = 1; round <= maxRounds; round++) {
      for (const side of sides) {
        const failed = await runOnce(side, policy === undefined ? `run ${round}/${maxRounds}` : `run ${round} (at most ${maxRounds})`, true);
        if (failed !== undefined) return failed;
      }
      if (policy !== undefined && policy(samples, request) === 'stop') break;
    }

    const candidate = samples.filter((s) => s.side === 'candidate');
    const metric = median(candidate.map((s) => s.metric));
    const secondary: Record<string, number> = {};
    for (const name of new Set(candidate.flatMap((s) => Object.keys(s.secondary)))) {
      secondary[name] = median(candidate.flatMap((s) => (s.secondary[name] === undefined ? [] : [s.secondary[name]])));
    }
    const how = sides.length === 2 ? `median of ${candidate.length} A/B runs` : `median of ${candidate.length} run${candidate.length === 1 ? '' : 's'}`;
    return {
      outcomes: [outcome('bench', 'bench', 'ok', exitCode, durationMs, `${spec.metric.name} = ${metric} (${how})`)],
      measurement: { metric, samples, secondary },
    };
  }

  return async (request, stage, signal) => {
    throwIfAborted(signal);
    await mkdir(request.logDir, { recursive: true });
    if (stage === 'setup') return setup(request, signal);
    if (stage === 'checks') return checks(request, signal);
    return bench(request, signal);
  };
}
