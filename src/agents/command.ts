/**
 * The `command` agent: any coding-agent CLI (`claude -p {prompt}`, `codex exec {prompt}`,
 * `aider --message-file {prompt_file} --yes`) run in the worktree with the rendered prompt.
 *
 * What it returns, for the orchestrator:
 * - The change is whatever the command left in the worktree. If it made commits, HEAD is put
 *   back (`git reset --soft`) to where it started, so its whole work appears as uncommitted
 *   changes against the parent, like any other agent's.
 * - The description: `.ratchet/description` if it wrote one (the file is then removed, so it is
 *   not part of the change), else the subject of its last commit, else the last line of its
 *   output.
 * - Nothing left to try: `.ratchet/exhausted`, holding a one-line reason, is `{ kind:
 *   'exhausted' }` and the run ends normally, whatever else the command did or how it exited.
 *   A file, not an exit code: the model inside a CLI can write a file, but `claude -p` and the
 *   like choose their own exit status.
 * - No change at all is still `{ kind: 'change' }`: the orchestrator sees the empty diff and
 *   rejects it, as for every agent.
 * - A timeout is `failed/timeout`, a non-zero exit `failed/crash` with the exit code and the
 *   output's tail; an abort throws AbortedError once the command's process group is killed.
 *
 * The prompt goes to `<experimentDir>/prompt.md`, outside the worktree. The command sees the
 * spec's `env` allowlist plus the usual credentials of coding agents (AGENT_ENV_ALLOWLIST).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { AbortedError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command-runner.js';
import type { ProposalContext, ProposalOutcome, Proposer } from '../domain/proposal.js';
import { isEditable } from '../plan/path-policy.js';
import { agentSandbox } from './sandbox.js';
import { formatDuration } from '../domain/duration.js';
import { commandLimits, type Spec } from '../domain/spec.js';
import { listWorktreeFiles } from './claude/git-files.js';
import { DESCRIPTION_FILE, EXHAUSTED_FILE, renderPrompt } from './prompt.js';

export type CommandAgentSpec = Extract<Spec['agent'], { kind: 'command' }>;

export const PROMPT_FILE = 'prompt.md';
export const AGENT_LOG_FILE = 'agent.log';
const OUTPUT_TAIL_CHARS = 4000;
const DESCRIPTION_CHARS = 120;

/** Variables coding-agent CLIs read for their credentials and configuration. */
export const AGENT_ENV_ALLOWLIST: readonly string[] = ['ANTHROPIC_*', 'CLAUDE_*', 'OPENAI_*', 'CODEX_*', 'GEMINI_*', 'GOOGLE_*', 'AIDER_*', 'OPENROUTER_*', 'XDG_*'];

export interface CommandProposerOptions {
  /** The one sandboxed runner. */
  runner: CommandRunner;
}

/** `'…'` for sh, whatever the text holds. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Replaces `{prompt}` and `{prompt_file}` in one pass, so the prompt's own text is never expanded. */
export function expandCommand(template: string, values: { prompt: string; promptFile: string }): string {
  return template.replace(/\{(prompt|prompt_file)\}/g, (_, name: string) => shellQuote(name === 'prompt' ? values.prompt : values.promptFile));
}

export class CommandProposer implements Proposer {
  readonly kind = 'command';
  private readonly runner: CommandRunner;

  constructor(
    private readonly agent: CommandAgentSpec,
    options: CommandProposerOptions,
  ) {
    this.runner = options.runner;
  }

  async propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome> {
    const { worktree, experimentDir } = context;
    const policy = { editable: context.spec.editable, protected: context.spec.protected };
    const all = await listWorktreeFiles(worktree);
    const files = all.filter((f) => isEditable(f, policy));
    const prompt = renderPrompt(context, { files, finish: 'file' });
    const promptFile = join(experimentDir, PROMPT_FILE);
    const descriptionFile = join(worktree, DESCRIPTION_FILE);
    const exhaustedFile = join(worktree, EXHAUSTED_FILE);
    await mkdir(experimentDir, { recursive: true });
    await writeFile(promptFile, prompt.full);
    await rm(descriptionFile, { force: true });
    await rm(exhaustedFile, { force: true });
    // Coding-agent CLIs commit as they go. In the sandbox the repository is read-only, so new
    // objects go to a scratch store of their own (the repository's objects stay readable as an
    // alternate) and only this worktree's own admin folder (HEAD, index) is writable. Nothing
    // the agent commits reaches the repository: its work is taken from the files afterwards.
    const scratch = await mkdtemp(join(tmpdir(), 'ratchet-agent-objects-'));
    const gitEnv = { GIT_OBJECT_DIRECTORY: scratch, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(context.gitDir, 'objects') };
    const admin = await adminDir(worktree);
    try {
      const start = { head: await gitOut(worktree, ['rev-parse', 'HEAD']), branch: await gitOut(worktree, ['symbolic-ref', '-q', 'HEAD']) };
      const result = await this.runner.run({
        command: expandCommand(this.agent.run, { prompt: prompt.full, promptFile }),
        cwd: worktree,
        timeoutMs: this.agent.timeout,
        logFile: join(experimentDir, AGENT_LOG_FILE),
        allowEnv: [...AGENT_ENV_ALLOWLIST, ...context.spec.env],
        env: {
          RATCHET_PROMPT_FILE: promptFile,
          RATCHET_DESCRIPTION_FILE: descriptionFile,
          RATCHET_EXHAUSTED_FILE: exhaustedFile,
          RATCHET_EXPERIMENT: context.experiment,
          RATCHET_WORKTREE: worktree,
          ...gitEnv,
        },
        signal,
        limits: commandLimits(context.spec),
        // The CLI must reach its model: the network stays; the machine, the user's home and the
        // record do not, but for the folders the spec lends it (its login state).
        sandbox: agentSandbox(context, all, {
          network: true,
          mode: this.agent.sandbox ? context.spec.sandbox : 'none',
          extra: [
            { kind: 'ro', path: promptFile },
            { kind: 'rw', path: scratch },
            ...(admin === undefined ? [] : [{ kind: 'rw' as const, path: admin }]),
            // A folder lent that does not exist here is skipped: bwrap cannot mount what is not there.
            ...this.agent.mounts.map(expandHome).filter((path) => existsSync(path)).map((path) => ({ kind: 'rw' as const, path })),
          ],
        }),
      });
      return await this.outcome(result, { worktree, descriptionFile, exhaustedFile, start, gitEnv }, signal);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  private async outcome(
    result: Awaited<ReturnType<CommandRunner['run']>>,
    at: { worktree: string; descriptionFile: string; exhaustedFile: string; start: { head: string | undefined; branch: string | undefined }; gitEnv: Record<string, string> },
    signal: AbortSignal,
  ): Promise<ProposalOutcome> {
    const { worktree, descriptionFile, exhaustedFile, start, gitEnv } = at;
    const written = await takeLine(descriptionFile);
    const exhausted = await takeLine(exhaustedFile);
    // Their folder too, when nothing else is in it: it is ratchet's, not part of the change.
    await rmdir(dirname(descriptionFile)).catch(() => undefined);
    const moved = await restoreHead(worktree, start, gitEnv);
    // A description or exhausted file the agent staged or committed must not stay in the index.
    await git(worktree, ['reset', '-q', '--', DESCRIPTION_FILE, EXHAUSTED_FILE], gitEnv);
    if (result.aborted || signal.aborted) throw new AbortedError();
    if (exhausted !== undefined) return { kind: 'exhausted', reason: `the agent has nothing left to try: ${exhausted.line ?? `(${EXHAUSTED_FILE} gave no reason)`}` };
    const outputTail = tail(result.output, OUTPUT_TAIL_CHARS);
    if (moved.kind === 'switched') {
      return { kind: 'failed', verdict: 'rejected', reason: `the agent switched the worktree from ${start.branch ?? 'a detached HEAD'} to ${moved.branch ?? 'a detached HEAD'}`, outputTail };
    }
    if (result.timedOut) {
      return { kind: 'failed', verdict: 'timeout', reason: `agent command timed out after ${formatDuration(this.agent.timeout)}`, outputTail };
    }
    if (result.exitCode !== 0) {
      const how = result.exitCode === undefined ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.exitCode}`;
      const line = lastLine(result.output);
      return { kind: 'failed', verdict: 'crash', reason: `agent command ${how}${line === undefined ? '' : `: ${line}`}`, outputTail };
    }
    const description = written?.line ?? moved.subject ?? lastLine(result.output) ?? `change by \`${this.agent.run}\``;
    return { kind: 'change', description: clip(description, DESCRIPTION_CHARS) };
  }
}

function expandHome(path: string): string {
  const home = process.env['HOME'];
  return home !== undefined && (path === '~' || path.startsWith('~/')) ? join(home, path.slice(1)) : path;
}

/**
 * Whether the agent wrote the file, and its first non-empty line (undefined when it is empty);
 * the file is removed.
 */
async function takeLine(path: string): Promise<{ line: string | undefined } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  await rm(path, { force: true });
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return { line: line === undefined ? undefined : clip(line, DESCRIPTION_CHARS) };
}

type HeadState = { kind: 'same'; subject?: undefined } | { kind: 'moved'; subject: string | undefined } | { kind: 'switched'; branch: string | undefined; subject?: undefined };

/**
 * Undoes the agent's commits, keeping their content: HEAD goes back to where it started and
 * the work stays in the index and working tree. A branch switch is not undone (reported).
 */
async function restoreHead(worktree: string, start: { head: string | undefined; branch: string | undefined }, env: Record<string, string>): Promise<HeadState> {
  const branch = await gitOut(worktree, ['symbolic-ref', '-q', 'HEAD']);
  if (branch !== start.branch) return { kind: 'switched', branch };
  const head = await gitOut(worktree, ['rev-parse', 'HEAD']);
  if (start.head === undefined || head === start.head) return { kind: 'same' };
  const subject = await gitOut(worktree, ['log', '-1', '--format=%s'], env);
  await git(worktree, ['reset', '-q', '--soft', start.head], env);
  return { kind: 'moved', subject: subject === '' ? undefined : subject };
}

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number | undefined; stdout: string }> {
  // The ceiling keeps git to this worktree: with its .git link gone, git must fail, not find the user's repository above.
  const result = await execa('git', args, { cwd, reject: false, stdin: 'ignore', env: { GIT_TERMINAL_PROMPT: '0', GIT_CEILING_DIRECTORIES: dirname(cwd), ...env } });
  return { exitCode: result.exitCode, stdout: result.stdout };
}

/** The worktree's own admin folder in the repository (`<git dir>/worktrees/<name>`), from its `.git` link. */
async function adminDir(worktree: string): Promise<string | undefined> {
  const text = await readFile(join(worktree, '.git'), 'utf8').catch(() => '');
  return /^gitdir: (.+)$/m.exec(text)?.[1]?.trim();
}

async function gitOut(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string | undefined> {
  const result = await git(cwd, args, env);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

// eslint-disable-next-line no-control-regex -- terminal escapes are control characters by definition
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

/** The last non-empty line of output, without terminal colours. */
export function lastLine(output: string): string | undefined {
  const lines = output.replace(ANSI, '').split(/\r?\n|\r/).map((l) => l.trim());
  const line = lines.findLast((l) => l !== '');
  return line === undefined ? undefined : clip(line, DESCRIPTION_CHARS);
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : text.slice(-max);
}
