/** The CLI's output layer: the only place in src/ that writes to the console. */
import { RatchetError, UserError, ValidationError } from '../domain/errors.js';

let stdoutClosed = false;
let stderrClosed = false;
const closedListeners = new Set<() => void>();

/**
 * `ratchet watch | head -1`: when the reader of stdout goes away, the next write fails with
 * EPIPE. Like any Unix filter, ratchet then ends quietly, with 0: at once, or, while a session
 * listens (`onStdoutClosed`: a run, the dashboard, a worker), by stopping it cleanly first.
 * A closed stderr (`2>&1 | head -1`) only silences what would go there.
 */
export function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // Once closed, later writes (a live view's) fail too, with EPIPE or as writes after destroy.
    if (stdoutClosed) return;
    if (error.code !== 'EPIPE') throw error;
    stdoutClosed = true;
    if (closedListeners.size === 0) process.exit(0);
    for (const listener of closedListeners) listener();
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (stderrClosed) return;
    if (error.code !== 'EPIPE') throw error;
    stderrClosed = true;
  });
}

/** Called once when stdout's reader goes away; returns the function that stops listening. */
export function onStdoutClosed(listener: () => void): () => void {
  closedListeners.add(listener);
  return () => closedListeners.delete(listener);
}

export function isStdoutClosed(): boolean {
  return stdoutClosed;
}

export function out(text: string): void {
  if (stdoutClosed) return;
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function err(text: string): void {
  if (stderrClosed) return;
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(data: unknown): void {
  out(JSON.stringify(data, null, 2));
}

export function isTerminal(): boolean {
  return process.stdout.isTTY === true;
}

/** Print an error the way a user can act on, and return the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof ValidationError) {
    err(`ratchet: ${error.message}`);
    if (error.hint) err(`hint: ${error.hint}`);
    return error.exitCode;
  }
  if (error instanceof UserError) {
    err(`ratchet: ${error.message}`);
    if (error.hint) err(`hint: ${error.hint}`);
    return error.exitCode;
  }
  if (error instanceof RatchetError) {
    err(`ratchet: internal error: ${error.message}`);
    if (error.stack && process.env.RATCHET_DEBUG) err(error.stack);
    return error.exitCode;
  }
  err(`ratchet: unexpected error: ${error instanceof Error ? (process.env.RATCHET_DEBUG ? (error.stack ?? error.message) : error.message) : String(error)}`);
  err('hint: set RATCHET_DEBUG=1 for the stack trace, and please report it');
  return 70;
}
