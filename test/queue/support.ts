/**
 * Shared pieces of the queue tests: requests, a small stand-in for `combineStages`, and
 * executors that record what ran (and, where it matters, run real processes).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Evaluation, EvaluationRequest, StageKind, StageStatus } from '../../src/domain/evaluation.js';
import type { StageExecutor } from '../../src/eval/stages.js';
import type { StageResult } from '../../src/domain/job.js';
import { specSchema } from '../../src/domain/spec.js';

export const spec = specSchema.parse({
  objective: 'make it faster',
  // A setup command and a check: every stage is a job (plan/stage-work.ts skips empty ones).
  setup: 'true',
  checks: [{ name: 'test', run: 'true' }],
  bench: { run: 'true', metric: { name: 'ops', goal: 'maximize' } },
});

export function newRunId(): string {
  return `2026-11-21-sort-${randomUUID().slice(0, 4)}`;
}

export function request(runId: string, experiment = 'e0001', commit = 'c0ffee1'): EvaluationRequest {
  return {
    runId,
    experiment,
    commit,
    parentCommit: experiment === 'e0000' ? undefined : 'ba5e000',
    spec,
    baseCommit: 'ba5e000',
    source: { kind: 'local', gitDir: '/tmp/repo/.git' },
  };
}

export function stageResult(stage: StageKind, status: StageStatus = 'ok', reason = ''): StageResult {
  const result: StageResult = { outcomes: [{ stage, name: stage, status, exitCode: status === 'ok' ? 0 : 1, durationS: 0.01, reason }] };
  if (stage === 'bench' && status === 'ok') result.measurement = { metric: 42, samples: [], secondary: {} };
  if (status !== 'ok') result.failureTail = `${stage} said no`;
  return result;
}

/** Stand-in for src/plan/combine.ts: enough to see which stages ran and how they ended. */
export function combine(results: StageResult[]): Evaluation {
  const stages = results.flatMap((r) => r.outcomes);
  const bad = stages.find((o) => o.status !== 'ok' && o.status !== 'skipped');
  return {
    status: bad === undefined ? 'ok' : bad.status === 'timeout' ? 'timeout' : bad.status === 'crash' ? 'crash' : 'checks_failed',
    reason: bad === undefined ? 'ok' : `${bad.name}: ${bad.reason}`,
    stages,
    measurement: results.find((r) => r.measurement !== undefined)?.measurement,
    durationS: stages.reduce((sum, o) => sum + o.durationS, 0),
    failureTail: results.find((r) => r.failureTail !== undefined)?.failureTail,
  };
}

export interface Call {
  runId: string;
  experiment: string;
  commit: string;
  stage: StageKind;
}

/** An executor that returns `decide(...)` for each stage and records every call in order. */
export function recordingExecutor(decide: (request: EvaluationRequest, stage: StageKind) => StageResult = (_, stage) => stageResult(stage)) {
  const calls: Call[] = [];
  const executor: StageExecutor = (req, stage) => {
    calls.push({ runId: req.runId, experiment: req.experiment, commit: req.commit, stage });
    return Promise.resolve(decide(req, stage));
  };
  return { calls, executor };
}

/** Resolves once `predicate` holds, polling; fails the test after `ms`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A real long-running process, killed (its whole group) when `signal` fires; resolves with
 * how it ended. What a stage executor does with a bench, reduced to the part under test.
 */
export function runUntilAborted(signal: AbortSignal, onStart: (pid: number) => void): Promise<'aborted' | 'exited'> {
  return new Promise((resolve) => {
    const child = spawn('sleep', ['45'], { detached: true, stdio: 'ignore' });
    const kill = (): void => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    };
    child.once('spawn', () => onStart(child.pid ?? -1));
    child.once('exit', () => resolve(signal.aborted ? 'aborted' : 'exited'));
    if (signal.aborted) kill();
    else signal.addEventListener('abort', kill, { once: true });
  });
}
