import type { Command } from 'commander';
import { Option } from 'commander';
import { resumeRun, startRun, type RunOutcome } from '../../app/run.js';
import { locateRun } from '../../app/runs.js';
import { SPEC_FLAGS, type SpecFlags } from '../../spec/flags.js';
import { readRunInfo } from '../../store/run-dir.js';
import { createLiveView, type LiveView } from '../../view/watch/live.js';
import { formatSummary } from '../../view/summary.js';
import { err, out, printJson } from '../output.js';
import { interruptOnSignals } from '../signals.js';
import { collect, experimentsOption, exitCodeFor, intArg, newRunsRoot, numberArg, runsWhere } from './common.js';

interface RunCliOptions extends SpecFlags {
  experiments?: string;
  runId?: string;
  base?: string;
  spec?: string;
  redis?: string;
  worker: boolean;
  keepWorktrees?: boolean;
  json?: boolean;
}

/** The spec flags among the options: commander's names are SpecFlags' keys (SPEC_FLAGS). */
function specFlags(o: RunCliOptions): SpecFlags {
  const flags: SpecFlags = {};
  for (const key of Object.keys(SPEC_FLAGS) as (keyof SpecFlags)[]) if (o[key] !== undefined) Object.assign(flags, { [key]: o[key] });
  return flags;
}

/** Options shared by run and resume: where runs live, which Redis, whether to work in-process. */
function sessionOptions(command: Command): Command {
  return command
    .addOption(experimentsOption())
    .option('--redis <url>', 'Redis to use (default: REDIS_URL, else a private redis-server for the run)')
    .option('--no-worker', 'do not run an in-process worker; `ratchet worker` processes serve the run')
    .option('--keep-worktrees', 'leave experiment worktrees on disk (for debugging)')
    .option('--json', 'print the summary as JSON');
}

type LiveOptions = Pick<Parameters<typeof startRun>[0], 'onEvent' | 'onWarning' | 'onStart'>;

async function runSession(o: RunCliOptions, start: (signal: AbortSignal, live: LiveOptions) => Promise<RunOutcome>): Promise<number> {
  const interrupt = interruptOnSignals();
  // With --json, stdout is the summary alone and the view goes to stderr. Redrawn in place on a
  // terminal, one line per event otherwise.
  const view = createLiveView({ out: o.json ? process.stderr : process.stdout });
  try {
    const outcome = await start(interrupt.signal, liveOptions(o, view));
    view.close();
    if (o.json) printJson(outcome.summary);
    else out(`\n${formatSummary(outcome.summary)}`);
    return exitCodeFor(outcome.stop.reason);
  } finally {
    view.close();
    interrupt.dispose();
  }
}

function liveOptions(o: RunCliOptions, view: LiveView): LiveOptions {
  return {
    onEvent: (event, state) => view.onEvent(event, state),
    onWarning: (message) => err(`ratchet: warning: ${message}`),
    onStart: ({ runId, dir }) => {
      (o.json ? err : out)(`run ${runId}: ${dir}`);
      // The view's budget line reads run.json, which exists by now.
      void readRunInfo(dir).then((info) => view.setInfo(info), () => undefined);
    },
  };
}

export function registerRun(program: Command): void {
  sessionOptions(
    program
      .command('run')
      .description('run the improvement loop on a git repository')
      .argument('[repo]', 'the target repository', '.')
      .option('--run-id <id>', 'the run id (default: date-repo-random)')
      .option('--base <rev>', 'start from this revision instead of HEAD')
      .option('--spec <file>', 'the spec file (default: ratchet.yaml in the repository)')
      .option('--agent <kind>', 'the agent: replay, tune, claude, command')
      .option('--patches <dir>', 'replay: a folder of patch files, applied in name order')
      .option('--agent-run <command>', 'command: the coding-agent CLI to run, with {prompt} or {prompt_file} (implies --agent command)')
      .option('--max-experiments <n>', 'stop after this many experiments', intArg)
      .option('--objective <text>', 'what to improve (prose, or a file in the repository)')
      .option('--bench <command>', 'the command that prints the metric')
      .option('--metric <name>', 'the metric name')
      .addOption(new Option('--goal <goal>', 'minimize or maximize the metric').choices(['minimize', 'maximize']))
      .option('--check <command>', 'a check that must pass (repeatable)', collect)
      .option('--editable <glob>', 'a path the agent may change (repeatable)', collect)
      .option('--protected <glob>', 'a path the agent must not change (repeatable)', collect)
      .option('--setup <command>', 'run once per worktree before the checks')
      .option('--repeat <n>', 'bench runs per candidate (A/B pairs when > 1)', intArg)
      .option('--min-effect <value>', 'smallest gain worth keeping, e.g. 1% or 0.01')
      .option('--timeout <duration>', 'the bench timeout, e.g. 5m')
      .option('--duration <duration>', 'the time budget, e.g. 8h')
      .option('--usd <amount>', 'the spending budget in US dollars', numberArg)
      .option('--model <id>', 'claude: the model')
      .option('--remote <url>', 'a git remote for workers on other machines: the base and every candidate are pushed there (refs/ratchet/<run>/…) and workers fetch them')
      .addOption(new Option('--sandbox <mode>', 'where candidate commands run: bwrap, none, or auto (bwrap when it works here)').choices(['auto', 'bwrap', 'none'])),
  ).action(async (repo: string, o: RunCliOptions) => {
    process.exitCode = await runSession(o, (signal, live) =>
      startRun({
        repo,
        flags: specFlags(o),
        experimentsRoot: newRunsRoot(o),
        ...(o.spec === undefined ? {} : { specFile: o.spec }),
        ...(o.runId === undefined ? {} : { runId: o.runId }),
        ...(o.base === undefined ? {} : { base: o.base }),
        ...(o.redis === undefined ? {} : { redis: o.redis }),
        inProcessWorker: o.worker,
        keepWorktrees: o.keepWorktrees === true,
        signal,
        ...live,
      }),
    );
  });

  sessionOptions(program.command('resume').description('continue a stopped or crashed run from its events and git refs').argument('<run>', 'the run id')).action(
    async (runId: string, o: RunCliOptions) => {
      const { root } = await locateRun(runId, runsWhere(o));
      process.exitCode = await runSession(o, (signal, live) =>
        resumeRun({
          runId,
          experimentsRoot: root,
          ...(o.redis === undefined ? {} : { redis: o.redis }),
          inProcessWorker: o.worker,
          keepWorktrees: o.keepWorktrees === true,
          signal,
          ...live,
        }),
      );
    },
  );
}
