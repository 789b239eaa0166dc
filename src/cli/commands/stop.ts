import { InvalidArgumentError, type Command } from 'commander';
import { stopRun, stopTimedOut } from '../../app/stop-request.js';
import { parseDuration } from '../../domain/duration.js';
import { out, printJson } from '../output.js';
import { interruptOnSignals } from '../signals.js';
import { experimentsOption, runsWhere } from './common.js';

function durationArg(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration, e.g. 30s or 2m');
  return ms;
}

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('stop a running run cleanly, from any terminal: the experiment in flight is cancelled, and `ratchet resume` continues it')
    .argument('<run>', 'the run id')
    .addOption(experimentsOption())
    .option('--wait <duration>', 'how long to wait for the run to stop (0: only ask)', durationArg, 120_000)
    .option('--json', 'print the outcome as JSON')
    .action(async (runId: string, o: { experiments?: string; wait: number; json?: boolean }) => {
      const interrupt = interruptOnSignals();
      try {
        const result = await stopRun({ runId, waitMs: o.wait, signal: interrupt.signal, ...runsWhere(o) });
        if (result.state === 'requested' && o.wait > 0) throw stopTimedOut(result, o.wait);
        if (o.json) return printJson(result);
        const who = result.holder ? ` (pid ${result.holder.pid} on ${result.holder.host})` : '';
        if (result.state === 'not-running') out(`run ${result.runId} is not running; nothing to stop`);
        else if (result.state === 'stopped') out(`run ${result.runId} stopped${who}; continue it with: ratchet resume ${result.runId}`);
        else out(`run ${result.runId}: asked to stop${who}`);
        return undefined;
      } finally {
        interrupt.dispose();
      }
    });
}
