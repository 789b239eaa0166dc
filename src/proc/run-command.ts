/**
 * Runs shell commands for setup, checks and benches: each in its own process group so a
 * timeout, an abort or ratchet's own exit kills everything the command started, with output
 * streamed to a capped log file and the tail kept in memory.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../core/errors.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../core/ports.js';
import { formatDuration } from '../spec/duration.js';
import { childEnv } from './env.js';

export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;
export const DEFAULT_CAPTURE_BYTES = 1024 * 1024;
/** Time between SIGTERM and SIGKILL for a group that is being stopped. */
export const DEFAULT_KILL_GRACE_MS = 2_000;
const POLL_MS = 50;

// Process groups started here and not yet known to be gone; killed if ratchet exits.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** SIGKILL every process group still running. Synchronous, so it is safe in an `exit` handler. */
export function killLiveGroups(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}

/**
 * If ratchet dies without running its exit hook (SIGKILL, OOM), nothing would stop a bench it
 * started. A small detached watchdog per group polls ratchet's pid and kills the group once
 * ratchet is gone; it exits by itself as soon as the group is empty.
 */
const WATCHDOG = [
  'while kill -0 "$1" 2>/dev/null; do',
  '  kill -0 "-$2" 2>/dev/null || exit 0',
  '  sleep 1',
  'done',
  'kill -TERM "-$2" 2>/dev/null; sleep 2; kill -KILL "-$2" 2>/dev/null',
].join('\n');

function startWatchdog(pgid: number): void {
  try {
    const dog = spawn('sh', ['-c', WATCHDOG, 'ratchet-watchdog', String(process.pid), String(pgid)], { detached: true, stdio: 'ignore' });
    dog.on('error', () => undefined);
    dog.unref();
  } catch {
    // Without sh there is no command either; the exit hook still covers a normal exit.
  }
}

function track(pgid: number): void {
  if (!exitHookInstalled) {
    process.on('exit', killLiveGroups);
    exitHookInstalled = true;
  }
  liveGroups.add(pgid);
  startWatchdog(pgid);
}

/** Sends `signal` to the group; false when no process of the group is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any live process is left in the group. Zombies count as gone: an orphan killed here is
 * reparented to init, which may take its time to reap it, and a zombie runs nothing.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  const entries = await readdir('/proc').catch(() => undefined);
  if (entries === undefined) return true;
  const states = await Promise.all(
    entries.filter((e) => /^\d+$/.test(e)).map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')),
  );
  return states.some((stat) => {
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === String(pgid) && fields[0] !== 'Z' && fields[0] !== 'X';
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGTERM the group, wait up to `graceMs` for it to empty, then SIGKILL what is left. */
export async function stopGroup(pgid: number, graceMs = DEFAULT_KILL_GRACE_MS): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    if (!(await groupAlive(pgid))) return;
  }
  signalGroup(pgid, 'SIGKILL');
}

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= this.limit) {
      this.size -= this.chunks.shift()!.length;
      this.dropped = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    const start = Math.max(0, all.length - this.limit);
    const text = all.subarray(start).toString('utf8');
    // A cut inside a multi-byte character decodes as replacement characters: drop them.
    return this.dropped || start > 0 ? text.replace(/^\uFFFD+/, '') : text;
  }
}

export interface ExecaCommandRunnerOptions {
  /** The environment the allowlist filters; ratchet's own by default. */
  baseEnv?: NodeJS.ProcessEnv;
  killGraceMs?: number;
}

export class ExecaCommandRunner implements CommandRunner {
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;

  constructor(options: ExecaCommandRunnerOptions = {}) {
    this.baseEnv = options.baseEnv ?? process.env;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  async run(options: CommandOptions): Promise<CommandResult> {
    const maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    const tail = new TailBuffer(options.captureBytes ?? DEFAULT_CAPTURE_BYTES);
    if (options.signal?.aborted === true) {
      return { exitCode: undefined, signal: undefined, timedOut: false, aborted: true, durationMs: 0, output: '', truncated: false };
    }

    // Open the log before starting anything: an unwritable log folder is the user's to fix.
    const handle = await mkdir(dirname(options.logFile), { recursive: true })
      .then(() => open(options.logFile, 'a'))
      .catch((error: unknown) => {
        throw new UserError(`cannot write the log ${options.logFile}: ${(error as Error).message}`, { cause: error });
      });
    const log = handle.createWriteStream();
    const logClosed = new Promise<void>((resolve) => log.once('close', resolve));
    // A log that stops accepting writes (a full disk) must not take the worker down: the output
    // is still captured in memory.
    log.on('error', () => undefined);
    log.write(`[ratchet] ${new Date().toISOString()} in ${options.cwd}\n$ ${options.command}\n`);
    let logged = 0;
    let truncated = false;
    const record = (chunk: Buffer): void => {
      tail.push(chunk);
      if (truncated) return;
      const room = maxLogBytes - logged;
      if (chunk.length <= room) {
        log.write(chunk);
        logged += chunk.length;
        return;
      }
      if (room > 0) log.write(chunk.subarray(0, room));
      logged = maxLogBytes;
      truncated = true;
      log.write(`\n[ratchet: log truncated at ${maxLogBytes} bytes]\n`);
    };

    const started = performance.now();
    const subprocess = execa('sh', ['-c', options.command], {
      cwd: options.cwd,
      env: childEnv(this.baseEnv, { allowEnv: options.allowEnv, env: options.env }),
      extendEnv: false,
      detached: true,
      reject: false,
      stdin: 'ignore',
      all: true,
      buffer: false,
      encoding: 'buffer',
    });
    const pgid = subprocess.pid;
    if (pgid !== undefined) track(pgid);
    subprocess.all.on('data', (chunk: Uint8Array) => record(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));

    let timedOut = false;
    let aborted = false;
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      if (pgid !== undefined) stopping ??= stopGroup(pgid, this.killGraceMs);
      return stopping ?? Promise.resolve();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      void stop();
    }, options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      void stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The shell may exit while something it started in the background still holds the output
    // pipe: stop the rest of the group, or the command would neither finish nor be cleaned up.
    subprocess.once('exit', () => {
      clearTimeout(timer);
      void stop();
    });

    try {
      const result = await subprocess;
      await stop();
      const durationMs = performance.now() - started;
      const signal = result.signal;
      let footer: string;
      if (timedOut) footer = `timed out after ${formatDuration(options.timeoutMs)}, process group killed`;
      else if (aborted) footer = 'aborted, process group killed';
      else if (result.exitCode !== undefined) footer = `exit ${result.exitCode}`;
      else if (signal !== undefined) footer = `killed by ${signal}`;
      else {
        // It never started (a missing cwd, no `sh`): say why where the output would have been.
        footer = 'could not start';
        record(Buffer.from(`${result.shortMessage}\n`));
      }
      log.write(`[ratchet] ${footer} (${formatDuration(durationMs)})\n`);
      return {
        exitCode: result.exitCode,
        signal,
        timedOut,
        aborted: aborted && !timedOut,
        durationMs,
        output: tail.text(),
        truncated,
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) liveGroups.delete(pgid);
      log.end();
      await logClosed;
    }
  }
}
