#!/usr/bin/env node
/** The CLI entry: wires the commands; errors become exit codes here and only here. */
import { Command, CommanderError } from 'commander';
import { RATCHET_VERSION } from '../app/version.js';
import { registerHarvest } from './commands/harvest.js';
import { registerDemo } from './commands/demo.js';
import { registerInspect } from './commands/inspect.js';
import { registerRun } from './commands/run.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerStop } from './commands/stop.js';
import { registerWatch } from './commands/watch.js';
import { registerViews } from './commands/views.js';
import { registerWorker } from './commands/worker.js';
import { endQuietlyWhenStdoutCloses, isStdoutClosed, reportError } from './output.js';

export function buildProgram(): Command {
  const program = new Command('ratchet')
    .description('keep only the changes that really make your code better')
    .version(RATCHET_VERSION)
    .showHelpAfterError('(ratchet --help lists the commands)')
    .exitOverride();
  registerRun(program);
  registerDemo(program);
  registerStop(program);
  registerWorker(program);
  registerInspect(program);
  registerSpecCommands(program);
  registerHarvest(program);
  registerWatch(program);
  registerViews(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  endQuietlyWhenStdoutCloses();
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    // A session stopped because its reader went away ended as asked: 0, like a filter.
    if (isStdoutClosed()) return 0;
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportError(error);
  }
}

process.exitCode = await main(process.argv.slice(2));
// Everything is said and recorded by now. A client left retrying a Redis that is gone (its close
// timed out) would keep the process alive for ever: the backstop ends it, and never fires otherwise.
setTimeout(() => process.exit(), 3_000).unref();
