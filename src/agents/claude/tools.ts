/**
 * What the agent's tools do in the worktree. Every outcome, a refusal or a bad input included,
 * is a tool result the model reads (`isError` marks failures); only an abort escapes, so the
 * proposal stops at once.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AbortedError } from '../../domain/errors.js';
import type { CommandRunner, SandboxRequest } from '../../domain/command-runner.js';
import type { Redactor } from '../../util/redact.js';
import { isEditable, matchesAny, type PathPolicy } from '../../plan/path-policy.js';
import { formatDuration } from '../../domain/duration.js';
import { grepWorktree, listWorktreeFiles } from './git-files.js';
import { resolveForWrite, resolveInWorktree } from './paths.js';
import { isToolName, parseToolInput, type ToolInput, type ToolName } from './tool-schemas.js';

export const LIMITS = {
  listedFiles: 500,
  readLines: 2_000,
  readChars: 60_000,
  lineChars: 2_000,
  searchLines: 200,
  searchLineChars: 300,
  commandOutputChars: 16_000,
  maxFileBytes: 10 * 1024 * 1024,
};

export interface ToolOutput {
  content: string;
  isError: boolean;
}

export interface ToolContext {
  worktree: string;
  policy: PathPolicy;
  runner: CommandRunner;
  commandTimeoutMs: number;
  /** Where run_command appends its output. */
  commandLog: string;
  /** Extra environment variables commands may see (the spec's `env`). */
  allowEnv: readonly string[];
  /** Never passed, whatever `allowEnv` says (the API key). */
  denyEnv: readonly string[];
  /** The sandbox of run_command, built when it runs (the worktree's files change meanwhile). */
  sandbox: () => Promise<SandboxRequest>;
  /** Memory and CPU of run_command (`limits.memory`, `limits.cpu`). */
  limits: { memoryBytes: number | undefined; cpus: number | undefined };
  /** Applied to every tool result: a secret the agent finds is not shown to the model. */
  redactor: Redactor;
  signal: AbortSignal;
}

const ok = (content: string): ToolOutput => ({ content, isError: false });
const fail = (content: string): ToolOutput => ({ content, isError: true });

type Handler<N extends ToolName> = (input: ToolInput<N>, context: ToolContext) => Promise<ToolOutput>;
type RunnableTool = Exclude<ToolName, 'finish'>;

/** Runs one tool call (not `finish`, which ends the conversation and is the loop's). */
export async function runTool(name: string, input: unknown, context: ToolContext): Promise<ToolOutput> {
  if (!isToolName(name) || name === 'finish') {
    return fail(`Unknown tool ${JSON.stringify(name)}. Available: list_files, read_file, search, edit_file, write_file, run_command, finish.`);
  }
  const output = await runKnown(name, input, context);
  return { ...output, content: context.redactor.redact(output.content) };
}

async function runKnown<N extends RunnableTool>(name: N, input: unknown, context: ToolContext): Promise<ToolOutput> {
  const parsed = parseToolInput(name, input);
  if (!parsed.ok) return fail(parsed.message);
  try {
    return await (HANDLERS[name] as Handler<N>)(parsed.value, context);
  } catch (error) {
    if (error instanceof AbortedError || context.signal.aborted) throw new AbortedError();
    // A file system error (permissions, a full disk) is this call's failure, for the model to
    // see; anything else is a bug of ours and is thrown.
    if (error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string') return fail(`${name} failed: ${error.message}`);
    throw error;
  }
}

async function listFiles(input: ToolInput<'list_files'>, context: ToolContext): Promise<ToolOutput> {
  let dir: string | undefined;
  if (input.dir !== undefined && input.dir.trim() !== '' && input.dir.trim() !== '.') {
    const resolved = await resolveInWorktree(context.worktree, input.dir);
    if (!resolved.ok) return fail(resolved.message);
    dir = resolved.rel;
  }
  let files = await listWorktreeFiles(context.worktree, dir);
  if (input.glob !== undefined && input.glob !== '') files = files.filter((f) => matchesAny(f, [input.glob!]));
  if (files.length === 0) return ok('No files match.');
  const lines = files.slice(0, LIMITS.listedFiles).map((f) => {
    if (matchesAny(f, context.policy.protected)) return `${f}  (protected)`;
    return isEditable(f, context.policy) ? f : `${f}  (not editable)`;
  });
  if (files.length > LIMITS.listedFiles) lines.push(`… ${files.length - LIMITS.listedFiles} more; narrow with dir or glob`);
  return ok(lines.join('\n'));
}

async function readText(abs: string, rel: string): Promise<{ text: string } | { error: string }> {
  let info;
  try {
    info = await stat(abs);
  } catch {
    return { error: `${rel} does not exist. Use list_files to see the files.` };
  }
  if (info.isDirectory()) return { error: `${rel} is a folder. Use list_files with dir: ${JSON.stringify(rel)}.` };
  if (info.size > LIMITS.maxFileBytes) return { error: `${rel} is ${info.size} bytes, too large to read or edit here; use search or run_command.` };
  const bytes = await readFile(abs);
  if (bytes.subarray(0, 8000).includes(0)) return { error: `${rel} is a binary file.` };
  return { text: bytes.toString('utf8') };
}

async function readTool(input: ToolInput<'read_file'>, context: ToolContext): Promise<ToolOutput> {
  const resolved = await resolveInWorktree(context.worktree, input.path);
  if (!resolved.ok) return fail(resolved.message);
  const read = await readText(resolved.abs, resolved.rel);
  if ('error' in read) return fail(read.error);
  const lines = read.text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const total = lines.length;
  if (total === 0) return ok(`${resolved.rel} is empty.`);
  const start = input.start_line ?? 1;
  if (start > total) return fail(`${resolved.rel} has ${total} lines; start_line ${start} is past its end.`);
  const end = Math.min(total, input.end_line ?? total, start + LIMITS.readLines - 1);
  if (end < start) return fail(`end_line ${end} is before start_line ${start}.`);
  const out: string[] = [];
  let chars = 0;
  let last = start - 1;
  for (let n = start; n <= end; n += 1) {
    const line = lines[n - 1] ?? '';
    const shown = line.length > LIMITS.lineChars ? `${line.slice(0, LIMITS.lineChars)}… (line cut)` : line;
    if (chars + shown.length > LIMITS.readChars && out.length > 0) break;
    out.push(`${String(n).padStart(6)}\t${shown}`);
    chars += shown.length + 8;
    last = n;
  }
  const header = last === total && start === 1 ? `${resolved.rel} (${total} lines)` : `${resolved.rel} (lines ${start}-${last} of ${total})`;
  const more = last < total ? `\n… more below: read with start_line ${last + 1}` : '';
  return ok(`${header}\n${out.join('\n')}${more}`);
}

async function searchTool(input: ToolInput<'search'>, context: ToolContext): Promise<ToolOutput> {
  let path: string | undefined;
  if (input.path !== undefined && input.path.trim() !== '' && input.path.trim() !== '.') {
    const resolved = await resolveInWorktree(context.worktree, input.path);
    if (!resolved.ok) return fail(resolved.message);
    path = resolved.rel;
  }
  const result = await grepWorktree(context.worktree, input.pattern, { ...(path === undefined ? {} : { path }), ignoreCase: input.ignore_case === true, signal: context.signal });
  if (context.signal.aborted) throw new AbortedError();
  if (result.error !== undefined) return fail(`search failed: ${result.error}`);
  if (result.lines.length === 0) return ok('No matches.');
  const shown = result.lines.slice(0, LIMITS.searchLines).map((l) => (l.length > LIMITS.searchLineChars ? `${l.slice(0, LIMITS.searchLineChars)}…` : l));
  if (result.lines.length > LIMITS.searchLines) shown.push(`… ${result.lines.length - LIMITS.searchLines} more matches; narrow the pattern or the path`);
  return ok(shown.join('\n'));
}

async function editTool(input: ToolInput<'edit_file'>, context: ToolContext): Promise<ToolOutput> {
  const resolved = await resolveForWrite(context.worktree, input.path, context.policy);
  if (!resolved.ok) return fail(resolved.message);
  const read = await readText(resolved.abs, resolved.rel);
  if ('error' in read) return fail(read.error.includes('does not exist') ? `${resolved.rel} does not exist; create it with write_file.` : read.error);
  if (input.old_string === input.new_string) return fail('old_string and new_string are the same; nothing would change.');
  const count = read.text.split(input.old_string).length - 1;
  if (count === 0) {
    return fail(`old_string was not found in ${resolved.rel}. Read the file again and copy the exact text, whitespace included, without line numbers.`);
  }
  if (count > 1 && input.replace_all !== true) {
    return fail(`old_string occurs ${count} times in ${resolved.rel}. Include more surrounding lines so it is unique, or set replace_all.`);
  }
  const at = read.text.indexOf(input.old_string);
  const updated = input.replace_all === true ? read.text.replaceAll(input.old_string, input.new_string) : read.text.slice(0, at) + input.new_string + read.text.slice(at + input.old_string.length);
  await writeFile(resolved.abs, updated);
  const line = read.text.slice(0, at).split('\n').length;
  return ok(`Edited ${resolved.rel}: replaced ${count === 1 ? '1 occurrence' : `${count} occurrences`} (first at line ${line}).`);
}

async function writeTool(input: ToolInput<'write_file'>, context: ToolContext): Promise<ToolOutput> {
  const resolved = await resolveForWrite(context.worktree, input.path, context.policy);
  if (!resolved.ok) return fail(resolved.message);
  const existing = await stat(resolved.abs).catch(() => undefined);
  if (existing?.isDirectory() === true) return fail(`${resolved.rel} is a folder.`);
  await mkdir(dirname(resolved.abs), { recursive: true });
  await writeFile(resolved.abs, input.content);
  const lines = input.content === '' ? 0 : input.content.split('\n').length - (input.content.endsWith('\n') ? 1 : 0);
  return ok(`${existing === undefined ? 'Created' : 'Wrote'} ${resolved.rel} (${lines} lines).`);
}

async function commandTool(input: ToolInput<'run_command'>, context: ToolContext): Promise<ToolOutput> {
  const result = await context.runner.run({
    command: input.command,
    cwd: context.worktree,
    timeoutMs: context.commandTimeoutMs,
    logFile: context.commandLog,
    allowEnv: context.allowEnv,
    denyEnv: context.denyEnv,
    signal: context.signal,
    sandbox: await context.sandbox(),
    limits: context.limits,
    captureBytes: LIMITS.commandOutputChars * 4,
  });
  if (result.aborted || context.signal.aborted) throw new AbortedError();
  let output = result.output.trimEnd();
  if (output.length > LIMITS.commandOutputChars) output = `… (output cut to its last ${LIMITS.commandOutputChars} characters)\n${output.slice(-LIMITS.commandOutputChars)}`;
  const took = formatDuration(result.durationMs);
  let status: string;
  if (result.timedOut) status = `timed out after ${formatDuration(context.commandTimeoutMs)}; the command and its children were killed`;
  else if (result.exitCode !== undefined) status = `exit code ${result.exitCode} after ${took}`;
  else status = `ended by ${result.signal ?? 'an unknown cause'} after ${took}`;
  const body = `${status}\n${output === '' ? '(no output)' : output}`;
  return result.exitCode === 0 ? ok(body) : fail(body);
}

const HANDLERS: { [N in RunnableTool]: Handler<N> } = {
  list_files: listFiles,
  read_file: readTool,
  search: searchTool,
  edit_file: editTool,
  write_file: writeTool,
  run_command: commandTool,
};
