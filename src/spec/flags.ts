/**
 * Command-line flags over the spec. Flags are merged into the file's *input* (before defaults and
 * validation), so the merged whole is validated once and every problem, from the file or from a
 * flag, is reported together. A repository without ratchet.yaml runs from flags alone (like
 * `weco run`): `--objective`, `--bench`, `--metric` and `--goal` are then required.
 */
import type { Issue } from '../domain/errors.js';
import { formatPath, type PathSegment, type Problem } from './issues.js';
import { problemsToIssues } from './load.js';
import type { Spec } from '../domain/spec.js';
import { checkSpec, specError } from './validate.js';

export { specToYaml } from './yaml.js';

export interface SpecFlags {
  agent?: string;
  patches?: string;
  /** The command agent's command line (`agent.run`); without `--agent`, it means `--agent command`. */
  agentRun?: string;
  maxExperiments?: number;
  objective?: string;
  bench?: string;
  metric?: string;
  goal?: string;
  /** Replaces the file's checks; repeatable. An empty list counts as not given (so do the other lists). */
  check?: string[];
  editable?: string[];
  protected?: string[];
  setup?: string;
  repeat?: number;
  minEffect?: string;
  /** The bench's timeout. */
  timeout?: string;
  /** The run's wall-clock budget. */
  duration?: string;
  usd?: number;
  model?: string;
  /** `auto`, `bwrap` or `none`. */
  sandbox?: string;
  /** The git remote workers fetch candidates from (`remote`). */
  remote?: string;
}

/** Each flag's spelling and the spec value it sets; the CLI can register its options from this. */
export const SPEC_FLAGS: { readonly [K in keyof Required<SpecFlags>]: { flag: string; path: readonly string[] } } = {
  agent: { flag: '--agent', path: ['agent', 'kind'] },
  patches: { flag: '--patches', path: ['agent', 'patches'] },
  agentRun: { flag: '--agent-run', path: ['agent', 'run'] },
  maxExperiments: { flag: '--max-experiments', path: ['budget', 'experiments'] },
  objective: { flag: '--objective', path: ['objective'] },
  bench: { flag: '--bench', path: ['bench', 'run'] },
  metric: { flag: '--metric', path: ['bench', 'metric', 'name'] },
  goal: { flag: '--goal', path: ['bench', 'metric', 'goal'] },
  check: { flag: '--check', path: ['checks'] },
  editable: { flag: '--editable', path: ['editable'] },
  protected: { flag: '--protected', path: ['protected'] },
  setup: { flag: '--setup', path: ['setup'] },
  repeat: { flag: '--repeat', path: ['bench', 'repeat'] },
  minEffect: { flag: '--min-effect', path: ['bench', 'min_effect'] },
  timeout: { flag: '--timeout', path: ['bench', 'timeout'] },
  duration: { flag: '--duration', path: ['budget', 'duration'] },
  usd: { flag: '--usd', path: ['budget', 'usd'] },
  model: { flag: '--model', path: ['agent', 'model'] },
  sandbox: { flag: '--sandbox', path: ['sandbox'] },
  remote: { flag: '--remote', path: ['remote'] },
};

type FlagKey = keyof SpecFlags;

/** What a spec needs that has no default; without a file, these flags must be given. */
export const REQUIRED_WITHOUT_FILE: readonly FlagKey[] = ['objective', 'bench', 'metric', 'goal'];

const AGENT_FLAGS: readonly FlagKey[] = ['agent', 'patches', 'agentRun', 'model'];

export interface MergedInput {
  input: unknown;
  /** The flags whose values went into `input`. */
  applied: FlagKey[];
  /** Flags that cannot apply (`--model` with a non-claude agent). */
  issues: Issue[];
}

/** Flags over a spec input (not modified); the result is not validated yet. */
export function applyFlags(base: unknown, flags: SpecFlags): MergedInput {
  if (!isRecord(base)) return { input: base, applied: [], issues: [] };
  const input = structuredClone(base);
  const applied: FlagKey[] = [];
  const issues: Issue[] = [];

  const fileAgent = isRecord(input.agent) ? input.agent : undefined;
  const kind = agentKind(input.agent, flags);
  if (flags.agent !== undefined || flags.agentRun !== undefined || (input.agent === undefined && (flags.model !== undefined || flags.patches !== undefined))) {
    // Another kind has other keys: switching kind starts the agent afresh.
    if (fileAgent?.kind !== kind) input.agent = { kind };
    if (flags.agent !== undefined) applied.push('agent');
  }
  for (const [key, wanted] of [['patches', 'replay'], ['agentRun', 'command'], ['model', 'claude']] as const) {
    const value = flags[key];
    if (value === undefined) continue;
    if (kind === wanted) {
      if (setIn(input, SPEC_FLAGS[key].path, value)) applied.push(key);
    } else {
      issues.push({ path: SPEC_FLAGS[key].flag, message: `applies only to --agent ${wanted}, and the agent is ${JSON.stringify(kind)}` });
    }
  }

  for (const key of Object.keys(SPEC_FLAGS) as FlagKey[]) {
    const given = flags[key];
    // An empty list is how an option parser says a repeatable flag was not given.
    if (AGENT_FLAGS.includes(key) || given === undefined || (Array.isArray(given) && given.length === 0)) continue;
    const value = key === 'check' ? checksFromCommands(flags.check ?? []) : given;
    if (setIn(input, SPEC_FLAGS[key].path, value)) applied.push(key);
  }
  return { input, applied, issues };
}

/**
 * The agent kind after the flags. `--agent-run` means the command agent (only it runs a command
 * line); without a kind anywhere, --model means claude, else replay (the default).
 */
function agentKind(fileAgent: unknown, flags: SpecFlags): unknown {
  if (flags.agent !== undefined) return flags.agent;
  if (flags.agentRun !== undefined) return 'command';
  if (fileAgent === undefined) return flags.model !== undefined ? 'claude' : 'replay';
  return isRecord(fileAgent) && fileAgent.kind !== undefined ? fileAgent.kind : 'replay';
}

export interface ResolveSpecOptions {
  /** The parsed ratchet.yaml before validation; undefined when the repository has none. */
  fileSpecInput?: unknown;
  flags: SpecFlags;
  /** Names the input in messages: the file's path, or e.g. "command line" for flags alone. */
  source: string;
  /** Lines of the file's values, for messages (`SpecDocument.lineOf`). */
  lineOf?: (path: readonly PathSegment[]) => number | undefined;
}

/** The spec to run: flags over the file (or flags alone), validated once; throws every problem. */
export function resolveSpec(options: ResolveSpecOptions): Spec {
  const { flags, source, lineOf } = options;
  const noFile = options.fileSpecInput === undefined;
  const merged = applyFlags(options.fileSpecInput ?? {}, flags);
  const result = checkSpec(merged.input);
  const issues = [...merged.issues, ...(result.ok ? [] : flagIssues(result.problems, merged.applied, noFile, lineOf))];
  if (issues.length > 0 || !result.ok) throw specError(source, issues);
  return result.spec;
}

/**
 * Problems as issues, named by the flag when a flag set the value (`--goal: expected …`);
 * without a file, a missing required value is a missing flag.
 */
export function flagIssues(
  problems: readonly Problem[],
  applied: readonly FlagKey[],
  noFile: boolean,
  lineOf?: (path: readonly PathSegment[]) => number | undefined,
): Issue[] {
  const issues: Issue[] = [];
  const fromFile: Problem[] = [];
  for (const problem of problems) {
    const setBy = applied.find((key) => startsWith(problem.path, SPEC_FLAGS[key].path));
    if (setBy !== undefined) {
      const { path } = SPEC_FLAGS[setBy];
      const inner = problem.path.length > path.length ? `${formatPath(problem.path)}: ` : '';
      issues.push({ path: SPEC_FLAGS[setBy].flag, message: `${inner}${problem.message}` });
      continue;
    }
    const missingFlags = noFile && problem.message.startsWith('required') ? REQUIRED_WITHOUT_FILE.filter((key) => startsWith(SPEC_FLAGS[key].path, problem.path)) : [];
    if (missingFlags.length > 0) {
      for (const key of missingFlags) issues.push({ path: SPEC_FLAGS[key].flag, message: 'required when there is no ratchet.yaml' });
      continue;
    }
    // The command agent's one required key: say which flag gives it.
    if (problem.message.startsWith('required') && samePath(problem.path, SPEC_FLAGS.agentRun.path)) {
      fromFile.push({ ...problem, message: `required: the agent's command line, in ratchet.yaml or as ${SPEC_FLAGS.agentRun.flag} "claude -p {prompt}"` });
      continue;
    }
    fromFile.push(problem);
  }
  return [...issues, ...problemsToIssues(fromFile, lineOf)];
}

/** `--check` commands as named checks: by what they run (`npm test` → test), else check1, check2… */
export function checksFromCommands(commands: readonly string[]): { name: string; run: string }[] {
  const used = new Set<string>();
  return commands.map((run, i) => {
    const base = checkName(run) ?? `check${i + 1}`;
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    return { name, run };
  });
}

/** Tools whose first argument says what runs: `npm run lint` → lint, `cargo test` → test. */
const RUNNERS = new Set(['npm', 'npx', 'pnpm', 'yarn', 'bun', 'cargo', 'go', 'make', 'uv', 'poetry', 'python', 'python3', 'just', 'deno']);
const SKIP = new Set(['run', 'exec', 'x', '-m']);

function checkName(command: string): string | undefined {
  const words = command.trim().split(/\s+/).filter((w) => !/^\w+=/.test(w));
  const first = words[0]?.split('/').pop();
  if (first === undefined || first === '') return undefined;
  let name = first;
  if (RUNNERS.has(first)) {
    const next = words.slice(1).find((w) => !SKIP.has(w) && !w.startsWith('-'));
    if (next !== undefined) name = next;
  }
  const clean = name.replace(/[^\w.-]/g, '');
  return clean === '' ? undefined : clean;
}

/** Sets a nested value, creating missing mappings; a non-mapping in the way is left for the schema to report. */
function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    const next = node[key];
    if (!isRecord(next)) return false;
    node = next;
  }
  node[path[path.length - 1]!] = value;
  return true;
}

function samePath(a: readonly PathSegment[], b: readonly PathSegment[]): boolean {
  return a.length === b.length && startsWith(a, b);
}

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
