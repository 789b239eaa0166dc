/**
 * The key that signs jobs and results (queue/signing.ts): `RATCHET_KEY`, the same on the machine
 * of `ratchet run` and on every `ratchet worker`. A run on its private Redis may go without one:
 * nobody else enqueues there, so a random key of the session's own does, held in memory only.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../domain/errors.js';

export const KEY_HINT = 'export RATCHET_KEY=$(openssl rand -hex 32) on every machine, the same value for `ratchet run` and each `ratchet worker`';

// 32 characters: what `openssl rand -hex 16` prints, 128 bits; shorter is too easy to guess.
const MIN_KEY_LENGTH = 32;

export interface JobKeyOptions {
  /** A Redis others can reach (`--redis`, `REDIS_URL`), rather than the run's private one. */
  shared: boolean;
  /** Who needs it, for the message: `a run`, `ratchet worker`. */
  who: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveJobKey(options: JobKeyOptions): Buffer {
  const text = (options.env ?? process.env)['RATCHET_KEY']?.trim() ?? '';
  if (text === '') {
    if (!options.shared) return randomBytes(32);
    throw new UserError(`${options.who} needs RATCHET_KEY on a shared Redis: it signs the jobs and their results`, { hint: KEY_HINT });
  }
  if (text.length < MIN_KEY_LENGTH) {
    throw new UserError(`RATCHET_KEY has ${text.length} characters; it needs at least ${MIN_KEY_LENGTH}`, { hint: KEY_HINT });
  }
  return Buffer.from(text, 'utf8');
}
