/**
 * `ratchet demo`: a real improvement loop on a fresh machine, no key and no network. A bundled
 * target is copied into a temporary repository and the `tune` agent (or the target's own agent,
 * if it needs no model) runs a dozen experiments with a private Redis.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { readSpecFile } from '../spec/load.js';
import { startRun, type RunOutcome, type SessionOptions } from './run.js';
import { createFromTemplate } from './targets.js';

export interface DemoOptions extends SessionOptions {
  target: string;
  maxExperiments: number;
}

export interface DemoOutcome extends RunOutcome {
  repo: string;
}

export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const parent = await mkdtemp(join(tmpdir(), 'ratchet-demo-'));
  const { dir } = await createFromTemplate(options.target, join(parent, options.target.replace(/^.*[\\/]/, '')));
  const doc = await readSpecFile(dir);
  const kind = (doc?.input as { agent?: { kind?: unknown } } | undefined)?.agent?.kind;
  if (kind !== 'tune' && kind !== 'replay') {
    throw new UserError(`the ${options.target} target needs a model-driven agent (${String(kind)}), so it cannot run as a demo`, {
      hint: `create it with: ratchet init --from ${options.target} DIR, then ratchet run DIR with ANTHROPIC_API_KEY set`,
    });
  }
  const outcome = await startRun({ ...options, repo: dir, flags: { maxExperiments: options.maxExperiments } });
  return { ...outcome, repo: dir };
}
