/**
 * Read-only git queries an agent makes in its worktree: the files it can see, a search, and
 * whether it has changed anything. None of them takes a lock (`--no-optional-locks`), so they
 * never contend with the orchestrator's own git operations on the repository.
 */
import { dirname } from 'node:path';
import { execa } from 'execa';

const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };

async function git(cwd: string, args: string[], signal?: AbortSignal): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await execa('git', ['--no-optional-locks', ...args], {
    cwd,
    reject: false,
    stdin: 'ignore',
    // The ceiling keeps git to this worktree: with its .git link gone, git must fail, not find the user's repository above.
    env: { ...GIT_ENV, GIT_CEILING_DIRECTORIES: dirname(cwd) },
    maxBuffer: 64 * 1024 * 1024,
    ...(signal === undefined ? {} : { cancelSignal: signal }),
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** Tracked and untracked (not ignored) files under `dir`, repository-relative, sorted. */
export async function listWorktreeFiles(worktree: string, dir?: string): Promise<string[]> {
  const args = ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate'];
  if (dir !== undefined && dir !== '' && dir !== '.') args.push('--', dir);
  const result = await git(worktree, args);
  if (result.exitCode !== 0) throw new Error(`git ls-files failed in ${worktree}: ${result.stderr.trim()}`);
  // Deleted-but-tracked files are still listed by --cached; the agent cannot read them, but the
  // list is a map of the repository, and a stale entry is harmless.
  return [...new Set(result.stdout.split('\0').filter((p) => p !== ''))].sort();
}

export interface GrepResult {
  /** `path:line:text` lines. */
  lines: string[];
  /** Set when git could not run the search (a bad pattern). */
  error: string | undefined;
}

/** `git grep -n` over tracked and untracked files (extended regex, binary files skipped). */
export async function grepWorktree(worktree: string, pattern: string, options: { path?: string; ignoreCase?: boolean; signal?: AbortSignal } = {}): Promise<GrepResult> {
  const args = ['grep', '-n', '-I', '-E', '--untracked', '--no-color'];
  if (options.ignoreCase === true) args.push('-i');
  args.push('-e', pattern);
  if (options.path !== undefined && options.path !== '') args.push('--', options.path);
  const result = await git(worktree, args, options.signal);
  if (result.exitCode === 0) return { lines: result.stdout.split('\n').filter((l) => l !== ''), error: undefined };
  if (result.exitCode === 1 && result.stderr.trim() === '') return { lines: [], error: undefined };
  return { lines: [], error: result.stderr.trim() || `git grep exited with ${result.exitCode}` };
}

/** Whether the worktree differs from its HEAD (modified, deleted or untracked files). */
export async function worktreeChanged(worktree: string): Promise<boolean> {
  const result = await git(worktree, ['status', '--porcelain', '--untracked-files=all']);
  return result.exitCode !== 0 || result.stdout.trim() !== '';
}
