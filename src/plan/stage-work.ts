/**
 * Which stages of an evaluation have nothing to run, and the result they would have produced.
 * Pure. A spec without a setup command or without checks makes those stages no-ops; sending them
 * to a worker anyway cost a job, a checkout and an isolation check each (about a third of an
 * experiment's overhead on a small repository). The bench stage prepares its own worktrees
 * (setting them up when no earlier stage did), so nothing it relies on is lost.
 */
import type { Spec } from '../domain/spec.js';
import type { StageKind } from '../domain/evaluation.js';
import type { StageResult } from '../domain/job.js';

/** The stage's result without a job, when the spec gives it nothing to run; otherwise undefined. */
export function resultWithoutJob(spec: Pick<Spec, 'setup' | 'checks'>, stage: StageKind): StageResult | undefined {
  if (stage === 'setup' && (spec.setup === undefined || spec.setup.trim() === '')) {
    return { outcomes: [{ stage: 'setup', name: 'setup', status: 'skipped', exitCode: undefined, durationS: 0, reason: 'no setup command' }] };
  }
  if (stage === 'checks' && spec.checks.length === 0) return { outcomes: [] };
  return undefined;
}
