/** The stage executor every worker runs: in-process in `ratchet run`, or in `ratchet worker`. */
import type { BenchSample } from '../core/types.js';
import { adaptivePolicy } from '../eval/adaptive.js';
import { createStageExecutor, type StageExecutor } from '../eval/stages.js';
import { ExecaCommandRunner } from '../proc/run-command.js';

export function createWorkerExecutor(): StageExecutor {
  return createStageExecutor(new ExecaCommandRunner(), {
    // The policy comes from the run's own spec, which travels with each job, so one worker serves
    // runs with different settings. Only A/B benches adapt; anything else (repeat: 1, a baseline
    // with no parent) runs the candidate exactly `repeat` times, though the executor would allow more.
    policy: (samples, request) => {
      const bench = request.spec.bench;
      if (bench.repeat > 1 && request.parentWorktree !== undefined) return adaptivePolicy(bench)([...samples] as BenchSample[]);
      return samples.filter((s) => s.side === 'candidate').length >= bench.repeat ? 'stop' : 'continue';
    },
  });
}
