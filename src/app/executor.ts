/** The stage executor every worker runs: in-process in `ratchet run`, or in `ratchet worker`. */
import type { BenchSample } from '../core/types.js';
import { adaptivePolicy } from '../eval/adaptive.js';
import { createStageExecutor, type StageExecutor } from '../eval/stages.js';
import { ExecaCommandRunner } from '../proc/run-command.js';

export function createWorkerExecutor(): StageExecutor {
  return createStageExecutor(new ExecaCommandRunner(), {
    // Adaptive repeats only for A/B benches; the policy comes from the run's own spec, which
    // travels with each job, so one worker serves runs with different settings.
    policy: (samples, request) =>
      request.spec.bench.repeat > 1 && request.parentWorktree !== undefined ? adaptivePolicy(request.spec.bench)([...samples] as BenchSample[]) : 'continue',
  });
}
