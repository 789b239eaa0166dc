/**
 * Runs git for the workspace: one place that fixes the environment and turns a failed command
 * into an error that carries git's own message.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InternalError, UserError } from '../domain/errors.js';
import { Spawner } from './spawner.js';

/**
 * Variables that would point git at another repository, index or object store than the one
 * `cwd` names (set, for example, when ratchet runs from inside a git hook).
 */
const REDIRECTING_ENV = new Set([
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
  'GIT_PREFIX',
  'GIT_LITERAL_PATHSPECS',
  'GIT_GLOB_PATHSPECS',
  'GIT_NOGLOB_PATHSPECS',
  'GIT_ICASE_PATHSPECS',
]);

/**
 * Never prompt, never take optional locks (a status must not rewrite an index), and never run
 * the repository's hooks: a `reference-transaction` or `post-checkout` hook is the user's, not
 * ours to trigger hundreds of times.
 */
const FIXED_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };
const FIXED_ARGS = ['-c', 'core.hooksPath=/dev/null'];

/** Pathspecs taken literally: a file named `a*.js` must not match `ab.js`. */
export const LITERAL_PATHSPECS = { GIT_LITERAL_PATHSPECS: '1' };

/** Who ratchet's commits are by, so committing works without any user git config. */
export const RATCHET_IDENTITY = {
  GIT_AUTHOR_NAME: 'ratchet',
  GIT_AUTHOR_EMAIL: 'ratchet@localhost',
  GIT_COMMITTER_NAME: 'ratchet',
  GIT_COMMITTER_EMAIL: 'ratchet@localhost',
};

export interface GitOptions {
  cwd: string;
  input?: string;
  env?: Record<string, string>;
  /** Return a non-zero exit as data instead of throwing. */
  allowFailure?: boolean;
  /**
   * Let git look for the repository above `cwd`. Off by default: a worktree whose `.git` link a
   * candidate deleted sits inside the repository's git dir, and a git that searched upwards
   * would act on the user's own repository instead of failing.
   */
  discover?: boolean;
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * process.env without the redirecting variables, copied once: copying it on every call was a
 * large share of the orchestrator's time (git runs many times per experiment). Nothing in
 * ratchet sets process.env after start-up; a test that does can call `resetGitEnv`.
 */
let baseEnv: Record<string, string> | undefined;

function gitEnv(extra: Record<string, string> | undefined): Record<string, string> {
  if (baseEnv === undefined) {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !REDIRECTING_ENV.has(name)) env[name] = value;
    }
    baseEnv = { ...env, ...FIXED_ENV };
  }
  return extra === undefined ? baseEnv : { ...baseEnv, ...extra };
}

/** Forget the copy of process.env (for a test that changes it). */
export function resetGitEnv(): void {
  baseEnv = undefined;
  spawner?.close();
  spawner = undefined;
}

/** How git ran: its exit code, or (undefined) why it could not run or finish. */
interface Ran {
  exitCode: number | undefined;
  cause?: unknown;
  shortMessage?: string;
  stdout: Buffer;
  stderr: string;
  stdoutBytes: number;
  headBytes: number;
}

/** The helper that starts git for this process (spawner.ts), made with the first command. */
let spawner: Spawner | undefined;

function ceilingOf(options: Pick<GitOptions, 'cwd' | 'discover'>): Record<string, string> {
  return options.discover === true ? {} : { GIT_CEILING_DIRECTORIES: dirname(resolve(options.cwd)) };
}

/**
 * Runs git through the spawner, not execa and not a fork of this process: ratchet runs git
 * tens of times per experiment, and execa's own work per call (about 2 ms of CPU) and then the
 * fork of a large process (4 to 7 ms with the event loop blocked) were most of the
 * orchestrator's time per experiment. The commands a candidate influences still go through
 * execa (proc/run-command.ts), where its process handling (trees, timeouts, signals) matters.
 */
async function runGit(args: readonly string[], options: GitOptions, output: { maxBytes?: number; keepAfter?: string } = {}): Promise<Ran> {
  spawner ??= new Spawner(gitEnv(undefined));
  const reply = await spawner.run({ file: 'git', args: [...FIXED_ARGS, ...args], cwd: options.cwd, env: { ...options.env, ...ceilingOf(options) }, ...(options.input === undefined ? {} : { input: options.input }), ...output });
  if (reply.exitCode !== undefined) return { exitCode: reply.exitCode, stdout: reply.stdout, stderr: reply.stderr, stdoutBytes: reply.stdoutBytes, headBytes: reply.headBytes };
  const why = reply.why ?? 'git did not finish';
  const cause = Object.assign(new Error(why), reply.errorCode === undefined ? {} : { code: reply.errorCode });
  return { exitCode: undefined, cause, shortMessage: why, stdout: reply.stdout, stderr: reply.stderr, stdoutBytes: reply.stdoutBytes, headBytes: reply.headBytes };
}

/**
 * git's stdout kept up to and with the first `separator` whole, then at most `maxBytes` more,
 * all of it counted: for a patch that may be too big to hold (patch.ts).
 */
export async function gitCapped(args: readonly string[], options: GitOptions, separator: Uint8Array, maxBytes: number | undefined): Promise<{ stdout: Buffer; stdoutBytes: number; headBytes: number }> {
  const ran = await runGit(args, options, { keepAfter: Buffer.from(separator).toString('hex'), ...(maxBytes === undefined || !Number.isFinite(maxBytes) ? {} : { maxBytes }) });
  await check(args, options, { ...ran, stderr: chomp(ran.stderr) });
  return { stdout: ran.stdout, stdoutBytes: ran.stdoutBytes, headBytes: ran.headBytes };
}

/** Without its last line end, as a command's output is usually wanted. */
function chomp(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** Throws for a git that could not run, or that failed when failure was not allowed. */
async function check(
  args: readonly string[],
  options: GitOptions,
  result: { exitCode?: number | undefined; cause?: unknown; shortMessage?: string | undefined; stderr: string },
): Promise<number> {
  if (result.exitCode === undefined) {
    // A missing cwd also reports ENOENT; only a missing binary is the user's to fix.
    if (isEnoent(result.cause) && (await isDirectory(options.cwd))) {
      throw new UserError('git is not installed or not on PATH', { hint: 'install git 2.36 or newer', cause: result.cause });
    }
    throw new InternalError(`git ${args[0] ?? ''} could not run in ${options.cwd}: ${result.shortMessage ?? String(result.cause)}`, { args, cwd: options.cwd });
  }
  if (result.exitCode !== 0 && options.allowFailure !== true) {
    throw new InternalError(`git ${args.join(' ')} failed in ${options.cwd}: ${result.stderr.trim() || `exit ${result.exitCode}`}`, {
      args,
      cwd: options.cwd,
      exitCode: result.exitCode,
      stderr: result.stderr,
    });
  }
  return result.exitCode;
}

export async function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const ran = await runGit(args, options);
  const stderr = chomp(ran.stderr);
  const exitCode = await check(args, options, { ...ran, stderr });
  return { exitCode, stdout: chomp(ran.stdout.toString('utf8')), stderr };
}

/** Output as bytes, for what need not be UTF-8 (patches). */
export async function gitBytes(args: readonly string[], options: GitOptions): Promise<Uint8Array> {
  const ran = await runGit(args, options);
  await check(args, options, { ...ran, stderr: chomp(ran.stderr) });
  return ran.stdout;
}

function isEnoent(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Output of a `-z` command as its NUL-separated fields, without the empty last one. */
export function splitNul(output: string): string[] {
  const fields = output.split('\0');
  if (fields.at(-1) === '') fields.pop();
  return fields;
}
