/**
 * `ratchet init`: write a ratchet.yaml from what the repository has (detect.ts) and the flags.
 *
 * Checks, setup and protected folders can be guessed; the objective and the bench cannot. When
 * the flags do not give them, the file still gets written, with those parts as commented
 * guidance, and `missing` names them: `ratchet run` then reports them as `required` until the
 * user fills them in. Nothing is invented that would run: a placeholder bench would be measured.
 */
import { stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { UserError } from '../domain/errors.js';
import { guessFromRepo } from './detect.js';
import { applyFlags, flagIssues, REQUIRED_WITHOUT_FILE, SPEC_FLAGS, type SpecFlags } from './flags.js';
import { SPEC_FILE_NAMES } from './load.js';
import { looksLikeObjectiveFile } from './objective.js';
import { checkSpec, specError } from './validate.js';
import { renderSpecYaml, type Guidance } from './yaml.js';
import { isFile } from '../util/fs.js';
import { shellWord } from '../util/shell.js';

export interface InitOptions {
  flags?: SpecFlags;
  /** Overwrite an existing ratchet.yaml. */
  force?: boolean;
  /** Where to look for tools such as pytest (default: PATH). */
  path?: string;
}

export interface InitResult {
  path: string;
  yaml: string;
  /** What was guessed from the repository, one line each, for the user to review. */
  guessed: string[];
  /** Required flags that were not given (`--bench`); their parts are commented guidance. */
  missing: string[];
}

const PLACEHOLDERS: Record<string, unknown> = { objective: '…', bench: '<command>', metric: 'score', goal: 'minimize' };

export async function initSpec(repoDir: string, options: InitOptions = {}): Promise<InitResult> {
  await refuseNonRepository(repoDir);
  const existing: string[] = [];
  for (const name of SPEC_FILE_NAMES) if (await isFile(join(repoDir, name))) existing.push(name);
  if (existing.length > 0 && options.force !== true) {
    throw new UserError(`${existing.join(' and ')} already exists in ${repoDir}`, { hint: 'pass --force to overwrite it' });
  }
  const fileName = existing[0] ?? 'ratchet.yaml';

  const guess = await guessFromRepo(repoDir, { path: options.path });
  const base: Record<string, unknown> = { protected: guess.protected, setup: guess.setup, checks: guess.checks };
  const merged = applyFlags(base, options.flags ?? {});
  const input = merged.input as Record<string, unknown>;
  const guessed = guess.guessed.filter((line) => !overridden(line, merged.applied));

  // The spec and what judges a candidate are never the agent's to change.
  const protectedGlobs = Array.isArray(input.protected) ? (input.protected as string[]) : [];
  const judges = [fileName, ...(await benchFiles(repoDir, input)), ...(await objectiveFile(repoDir, input))];
  for (const path of judges) {
    if (protectedGlobs.length > 0 && picomatch.isMatch(path, protectedGlobs)) continue;
    protectedGlobs.push(path);
    guessed.push(`protected: ${path} (${path === fileName ? 'the spec' : path.endsWith('.md') || path.endsWith('.txt') ? 'the objective' : 'run by the bench'})`);
  }
  input.protected = protectedGlobs;

  const missing = REQUIRED_WITHOUT_FILE.filter((key) => valueAt(input, SPEC_FLAGS[key].path) === undefined);
  const complete = structuredClone(input);
  for (const key of missing) setAt(complete, SPEC_FLAGS[key].path, PLACEHOLDERS[key]);
  const result = checkSpec(complete);
  const issues = [...merged.issues, ...(result.ok ? [] : flagIssues(result.problems, merged.applied, false))];
  if (issues.length > 0) throw specError('ratchet init', issues);

  const guidance: Guidance = {};
  if (missing.includes('objective')) {
    guidance.objective =
      ' objective is required: what to improve, as prose or the path of a markdown file in this\n' +
      ' repository (like program.md). Fill it in and uncomment it, or pass --objective.\n objective: program.md';
  }
  const written = { ...input };
  if (missing.some((key) => key !== 'objective')) {
    guidance.bench = benchGuidance(input.bench);
    delete written.bench;
  }
  const yaml = renderSpecYaml(written, guidance);
  const path = join(repoDir, fileName);
  await writeFile(path, yaml);
  return { path, yaml, guessed, missing: missing.map((key) => SPEC_FLAGS[key].flag) };
}

/**
 * ratchet works on git repositories (every try is a commit in a worktree): a folder that is not
 * in one is told so, with the commands that make it one, before a spec is written into it.
 */
async function refuseNonRepository(repoDir: string): Promise<void> {
  const dir = resolve(repoDir);
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UserError(`${dir} is not a folder`, { hint: 'give ratchet init the folder of a git repository' });
  for (let at = dir; ; at = dirname(at)) {
    if (await stat(join(at, '.git')).then(() => true, () => false)) return;
    if (dirname(at) === at) break;
  }
  const q = shellWord(dir);
  throw new UserError(`${dir} is not a git repository; ratchet keeps every try as a git commit, so it needs one`, {
    hint: `make it one: git -C ${q} init && git -C ${q} add -A && git -C ${q} commit -m "before ratchet"; or start from a bundled target: ratchet init --from tiny-lm NEW_DIR`,
    fields: { path: dir },
  });
}

function benchGuidance(given: unknown): string {
  const bench = typeof given === 'object' && given !== null ? structuredClone(given as Record<string, unknown>) : {};
  bench.run ??= '<command>';
  const metric = typeof bench.metric === 'object' && bench.metric !== null ? (bench.metric as Record<string, unknown>) : {};
  metric.name ??= '<name>';
  metric.goal ??= 'minimize';
  bench.metric = metric;
  const body = renderSpecYaml({ bench }).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return [
    ' bench is required: the command that measures a candidate. It prints the metric as',
    ' `METRIC <name>=<value>` or a JSON line. Fill it in and uncomment it, or pass',
    ' --bench CMD --metric NAME --goal minimize|maximize.',
    ...body.map((line) => ` ${line}`),
  ].join('\n');
}

/** A guess the flags replaced (`--check` over the guessed checks) is not reported. */
function overridden(line: string, applied: readonly string[]): boolean {
  const field = line.slice(0, line.indexOf(':'));
  return (field === 'checks' && applied.includes('check')) || ((field === 'setup' || field === 'protected') && applied.includes(field));
}

/** Files of the repository that the bench command names (`node bench.js`): the evaluator. */
async function benchFiles(repoDir: string, input: Record<string, unknown>): Promise<string[]> {
  const run = valueAt(input, ['bench', 'run']);
  if (typeof run !== 'string') return [];
  const files: string[] = [];
  for (const word of run.split(/\s+/)) {
    const token = word.replace(/^['"]|['"]$/g, '');
    if (!/[./]/.test(token) || token.startsWith('-')) continue;
    const path = inside(repoDir, token);
    if (path !== undefined && (await isFile(join(repoDir, path)))) files.push(path);
  }
  return files;
}

async function objectiveFile(repoDir: string, input: Record<string, unknown>): Promise<string[]> {
  const objective = input.objective;
  if (typeof objective !== 'string' || !looksLikeObjectiveFile(objective)) return [];
  const path = inside(repoDir, objective.trim());
  return path !== undefined && (await isFile(join(repoDir, path))) ? [path] : [];
}

/** The repository-relative, slash-separated path of `token`, or undefined outside the repository. */
function inside(repoDir: string, token: string): string | undefined {
  const path = relative(resolve(repoDir), resolve(repoDir, token));
  return path === '' || path.startsWith('..') ? undefined : path.split(sep).join('/');
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let node = input;
  for (const key of path) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

function setAt(input: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = input;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

