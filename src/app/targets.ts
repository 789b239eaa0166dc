/**
 * Bundled targets (`targets/<name>`): templates that `ratchet init --from` copies into a new git
 * repository, and that `ratchet demo` runs.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UserError } from '../domain/errors.js';
import { isFile } from '../util/fs.js';

const run = promisify(execFile);

/** The package's own targets folder (from src/app or dist/app, two levels up). */
export const BUNDLED_TARGETS = fileURLToPath(new URL('../../targets', import.meta.url));

export async function bundledTargetNames(): Promise<string[]> {
  const names = await readdir(BUNDLED_TARGETS).catch(() => [] as string[]);
  const targets: string[] = [];
  for (const name of names) if (await isFile(join(BUNDLED_TARGETS, name, 'ratchet.yaml'))) targets.push(name);
  return targets.sort();
}

/** A target template: a bundled name (`tiny-lm`, `targets/tiny-lm`) or a folder with a ratchet.yaml. */
export async function resolveTemplate(from: string): Promise<string> {
  const candidates = [resolve(from), join(BUNDLED_TARGETS, from.replace(/^targets[\\/]/, ''))];
  for (const dir of candidates) if (await isFile(join(dir, 'ratchet.yaml'))) return dir;
  const names = await bundledTargetNames();
  throw new UserError(`no target template at ${from} (a folder with a ratchet.yaml)`, { hint: `bundled targets: ${names.join(', ') || 'none found'}` });
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'ratchet',
  GIT_AUTHOR_EMAIL: 'ratchet@localhost',
  GIT_COMMITTER_NAME: 'ratchet',
  GIT_COMMITTER_EMAIL: 'ratchet@localhost',
  GIT_TERMINAL_PROMPT: '0',
};

/** Copy a template into `dir` (new or empty) and make it a git repository with one commit. */
export async function createFromTemplate(from: string, dir: string): Promise<{ dir: string; template: string; commit: string }> {
  const template = await resolveTemplate(from);
  const target = resolve(dir);
  const existing = await readdir(target).catch(() => undefined);
  if (existing !== undefined && existing.length > 0) {
    throw new UserError(`${target} is not empty`, { hint: 'choose a new or empty folder for the target' });
  }
  await mkdir(target, { recursive: true });
  await cp(template, target, { recursive: true, filter: (src) => !/[\\/](node_modules|\.git)([\\/]|$)/.test(src) });
  const git = (...args: string[]): Promise<{ stdout: string }> => run('git', args, { cwd: target, env: { ...process.env, ...GIT_ENV } });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-m', `target from ${template}`);
  const { stdout } = await git('rev-parse', 'HEAD');
  return { dir: target, template, commit: stdout.trim() };
}
