/**
 * Runs git for the workspace: one place that fixes the environment and turns a failed command
 * into an error that carries git's own message.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { InternalError, UserError } from '../domain/errors.js';

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
}

/** How git ran: its exit code, or (undefined) why it could not run or finish. */
interface Ran {
  exitCode: number | undefined;
  cause?: unknown;
  shortMessage?: string;
  stdout: Buffer;
  stderr: string;
}

/**
 * git as a child process with ratchet's fixed arguments and environment, for a caller that reads
 * its output as a stream (a patch too big to hold). stdin is a pipe only with `options.input`,
 * which the caller writes.
 */
export function spawnGit(args: readonly string[], options: Omit<GitOptions, 'allowFailure'>): ChildProcess {
  const ceiling = options.discover === true ? {} : { GIT_CEILING_DIRECTORIES: dirname(resolve(options.cwd)) };
  return spawn('git', [...FIXED_ARGS, ...args], {
    cwd: options.cwd,
    env: { ...gitEnv(options.env), ...ceiling },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
}

/**
 * Runs git with node's own `spawn`, not execa: ratchet runs git tens of times per experiment,
 * and execa's own work per call (about 2 ms of CPU against 0.7 ms for the spawn itself, measured
 * on this project's machines) was most of the orchestrator's CPU per experiment. The commands a
 * candidate influences still go through execa (proc/run-command.ts), where its process handling
 * (trees, timeouts, signals) matters.
 */
function runGit(args: readonly string[], options: GitOptions): Promise<Ran> {
  return new Promise((settle) => {
    let done = false;
    const finish = (ran: Ran): void => {
      if (!done) settle(ran);
      done = true;
    };
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const text = (): string => Buffer.concat(stderr).toString('utf8');
    let child: ChildProcess;
    try {
      child = spawnGit(args, options);
    } catch (cause) {
      finish({ exitCode: undefined, cause, shortMessage: String(cause), stdout: Buffer.alloc(0), stderr: '' });
      return;
    }
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (cause) => finish({ exitCode: undefined, cause, shortMessage: cause.message, stdout: Buffer.concat(stdout), stderr: text() }));
    child.once('close', (code, signal) =>
      finish(code === null ? { exitCode: undefined, shortMessage: `git was killed by ${signal ?? 'a signal'}`, stdout: Buffer.concat(stdout), stderr: text() } : { exitCode: code, stdout: Buffer.concat(stdout), stderr: text() }),
    );
    if (options.input !== undefined && child.stdin !== null) {
      // git may exit before reading all of it (a failed command): not an error of ours.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
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
