/** The CLI's output layer: the only place in src/ that writes to the console. */
import { RatchetError, UserError, ValidationError } from '../core/errors.js';

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function err(text: string): void {
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
