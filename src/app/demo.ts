/**
 * `ratchet demo`: a real improvement loop on a fresh machine, no key and no network. A bundled
 * target is copied into a temporary repository and the `tune` agent (or the target's own agent,
 * if it needs no model) runs eight experiments with a private Redis.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { readSpecFile } from '../spec/load.js';
import { startRun, type RunOutcome, type SessionOptions } from './run.js';
import { BUNDLED_TARGETS, bundledTargetNames, createFromTemplate, resolveTemplate } from './targets.js';

export interface DemoOptions extends SessionOptions {
  target: string;
  maxExperiments: number;
}

export interface DemoOutcome extends RunOutcome {
  repo: string;
}

/** Agents that need no model, key or network. */
const DEMO_AGENTS = new Set(['tune', 'replay']);

async function agentKindOf(templateDir: string): Promise<unknown> {
  const doc = await readSpecFile(templateDir);
  return (doc?.input as { agent?: { kind?: unknown } } | undefined)?.agent?.kind;
}

/**
 * The template folder of a target that can run as a demo; a UserError saying why not and what
 * to run instead, before anything is copied.
 */
export async function demoTemplate(target: string): Promise<string> {
  const template = await resolveTemplate(target);
  const kind = await agentKindOf(template);
  if (DEMO_AGENTS.has(String(kind))) return template;
  const demos: string[] = [];
  for (const name of await bundledTargetNames()) if (DEMO_AGENTS.has(String(await agentKindOf(join(BUNDLED_TARGETS, name))))) demos.push(name);
  throw new UserError(`the ${target} target needs a model-driven agent (${typeof kind === 'string' ? kind : 'none set'}), and the demo runs without an API key or network; nothing was copied`, {
    hint: `run it with your key: ratchet init --from ${target} DIR, then ANTHROPIC_API_KEY=… ratchet run DIR${demos.length > 0 ? `; demos that need no key: ${demos.map((d) => `ratchet demo ${d}`).join(', ')}` : ''}`,
  });
}

export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const template = await demoTemplate(options.target);
  const parent = await mkdtemp(join(tmpdir(), 'ratchet-demo-'));
  const { dir } = await createFromTemplate(template, join(parent, options.target.replace(/^.*[\\/]/, '')));
  const outcome = await startRun({ ...options, repo: dir, flags: { maxExperiments: options.maxExperiments } });
  return { ...outcome, repo: dir };
}
