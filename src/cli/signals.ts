/**
 * Ctrl-C and SIGTERM: the first stops the run cleanly (processes killed, worktrees removed,
 * the run marked stopped); a second exits at once. A closed stdout (`ratchet run | head`) stops
 * it cleanly too, as the first signal does.
 */
import { err, onStdoutClosed } from './output.js';

function exitNow(): void {
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 130);
}

export function interruptOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      err(`ratchet: ${name} again, exiting now`);
      process.exit(130);
    }
    err(`ratchet: ${name}: stopping (killing running commands, removing worktrees); press Ctrl-C again to exit at once`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  const unlisten = onStdoutClosed(() => {
    if (controller.signal.aborted) return;
    err('ratchet: stdout was closed: stopping cleanly (killing running commands, removing worktrees)');
    controller.abort();
  });
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      // The command is done but the process may still be closing (Redis, the private
      // redis-server). A signal now must still exit through process.exit, whose exit hooks stop
      // the redis-server ratchet started: the default action would kill node and leave it.
      process.once('SIGINT', exitNow);
      process.once('SIGTERM', exitNow);
      unlisten();
    },
  };
}
