import type { Command } from 'commander';
import { runCatalog } from '../../app/runs.js';
import { openWatch, watchRun } from '../../app/watch.js';
import { DEFAULT_PREFIX } from '../../queue/names.js';
import { createLiveView } from '../../view/watch/live.js';
import { err, isTerminal } from '../output.js';
import { experimentsOption, runsWhere } from './common.js';

interface WatchCliOptions {
  experiments?: string;
  plain?: boolean;
  follow: boolean;
  keep?: boolean;
  redis?: string;
  prefix: string;
}

/** Ctrl-C ends a watch quietly: watching never changes the run. */
function quitOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { signal: controller.signal, dispose: () => (process.off('SIGINT', stop), process.off('SIGTERM', stop)) };
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('follow a run live: redrawn in place on a terminal, one line per event otherwise')
    .argument('[run]', 'the run id (default: the latest)')
    .addOption(experimentsOption())
    .option('--plain', 'one line per event, even on a terminal')
    .option('--no-follow', 'print what happened so far and exit')
    .option('--keep', 'keep following after the run stops (to see it resumed)')
    .option('--redis <url>', 'when the run folder is not on this machine: follow the run through this Redis (default: REDIS_URL)')
    .option('--prefix <prefix>', 'the Redis key prefix the run uses', DEFAULT_PREFIX)
    .action(async (runId: string | undefined, o: WatchCliOptions) => {
      const quit = quitOnSignals();
      try {
        const source = await openWatch({
          runs: runCatalog(runsWhere(o)),
          ...(runId === undefined ? {} : { runId }),
          ...(o.redis === undefined ? {} : { redis: o.redis }),
          prefix: o.prefix,
          follow: o.follow,
          keep: o.keep === true,
          signal: quit.signal,
          onProblem: (problem) => err(`ratchet: warning: events.jsonl ${problem}`),
        });
        // A one-off print of a finished run reads better as lines, even on a terminal.
        const redraw = o.plain !== true && o.follow && isTerminal();
        const view = createLiveView({ out: process.stdout, redraw, ...(source.info === undefined ? {} : { info: source.info }) });
        try {
          await watchRun(source, view, { keep: o.keep === true, signal: quit.signal });
        } finally {
          view.close();
        }
      } finally {
        quit.dispose();
      }
    });
}
