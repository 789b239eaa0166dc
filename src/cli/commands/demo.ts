import type { Command } from 'commander';
import { demoTemplate, runDemo } from '../../app/demo.js';
import { showRun } from '../../app/inspect.js';
import { formatRunTable } from './inspect.js';
import { err, out, printJson } from '../output.js';
import { interruptOnSignals } from '../signals.js';
import { experimentsOption, exitCodeFor, intArg, newRunsRoot } from './common.js';
import { readRunInfo } from '../../store/run-dir.js';
import { createLiveView } from '../../view/watch/live.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('watch ratchet improve a bundled target on this machine: no API key, no network')
    .argument('[target]', 'a bundled target that needs no model', 'tiny-lm')
    .addOption(experimentsOption())
    .option('--max-experiments <n>', 'experiments after the baseline', intArg, 8)
    .option('--json', 'print the summary as JSON')
    .action(async (target: string, o: { experiments?: string; maxExperiments: number; json?: boolean }) => {
      // Refused before anything is copied or said about copying.
      await demoTemplate(target);
      const interrupt = interruptOnSignals();
      const say = o.json ? err : out;
      say(`ratchet demo: copying the ${target} target into a temporary git repository and tuning it for ${o.maxExperiments} experiments.`);
      say('Each experiment changes the code in its own worktree, runs the checks and the bench, and is kept only if it beats the best.\n');
      const view = createLiveView({ out: o.json ? process.stderr : process.stdout });
      try {
        const outcome = await runDemo({
          target,
          maxExperiments: o.maxExperiments,
          experimentsRoot: newRunsRoot(o),
          signal: interrupt.signal,
          onEvent: (event, state) => view.onEvent(event, state),
          onStart: ({ dir }) => void readRunInfo(dir).then((info) => view.setInfo(info), () => undefined),
          onWarning: (m) => err(`ratchet: warning: ${m}`),
        });
        view.close();
        const table = await showRun(newRunsRoot(o), outcome.summary.runId);
        if (o.json) printJson({ ...outcome.summary, repo: outcome.repo });
        else {
          out(`\n${formatRunTable(table)}\n`);
          const id = outcome.summary.runId;
          out('What now:');
          out(`  ratchet show ${id} e0001       one experiment: its change, its logs, its measurement`);
          out(`  ratchet serve                   the progress chart and every diff in your browser`);
          out(`  ratchet pick ${id}             the kept changes as a branch of ${outcome.repo}`);
          out(`  git -C ${outcome.repo} log --oneline ratchet/${id}/best`);
          out(`  For your own repository: ratchet init <repo>, then ratchet run <repo>.`);
        }
        process.exitCode = exitCodeFor(outcome.stop.reason);
      } finally {
        view.close();
        interrupt.dispose();
      }
    });
}
