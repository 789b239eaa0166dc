/**
 * Runs shell commands for setup, checks, benches and agents: inside the bubblewrap sandbox when
 * the caller asks for it and it works here, each in its own process group whose every process
 * is stopped when the command ends, times out or is aborted (process-tree.ts), with output
 * streamed to a capped log file and the tail kept in memory, secrets redacted from both.
 *
 * This is the one runner: every command a candidate can influence goes through it, built once
 * in src/app/compose.ts.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../domain/errors.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../domain/command-runner.js';
import { formatDuration } from '../domain/duration.js';
import { bytesRedactor, NO_REDACTION, type Redactor } from '../util/redact.js';
import { childEnv } from './env.js';
import { DEFAULT_KILL_GRACE_MS, newProcessToken, PROCESS_TOKEN_VAR, stopGroup, sweepToken, track, untrack } from './process-tree.js';
import { limitCommand } from './limits.js';
import { bwrapArgs, probeBwrap, readSandboxHost, type BwrapProbe, type SandboxHost } from './sandbox.js';

export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;
export const DEFAULT_CAPTURE_BYTES = 1024 * 1024;
/** How long output is still read after the command and everything it started are stopped. */
const PIPE_DRAIN_MS = 250;
export { DEFAULT_KILL_GRACE_MS, groupAlive, killLiveGroups, stopGroup } from './process-tree.js';

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
  /** Where the system and toolchain are, for commands that ask for the sandbox. */
  sandboxHost?: SandboxHost;
  /** Whether bubblewrap works here; `probeBwrap` by default. */
  probe?: () => Promise<BwrapProbe>;
  /** Secrets to keep out of logs and captured output. */
  redactor?: Redactor;
}

const JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

/** How one command is started: a shell, or a shell inside bubblewrap. */
type Launch = { ok: true; file: string; args: string[]; sandboxed: boolean } | { ok: false; reason: string };

const NOT_STARTED = { exitCode: undefined, signal: undefined, timedOut: false, aborted: false, durationMs: 0, truncated: false } as const;

export class ExecaCommandRunner implements CommandRunner {
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;
  private readonly probe: () => Promise<BwrapProbe>;
  private readonly redactor: Redactor;
  private host: SandboxHost | undefined;

  constructor(private readonly options: ExecaCommandRunnerOptions = {}) {
    this.baseEnv = options.baseEnv ?? process.env;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.probe = options.probe ?? (() => probeBwrap());
    this.redactor = options.redactor ?? NO_REDACTION;
  }

  /** bubblewrap's binary when this command runs sandboxed, undefined when unconfined; a reason when it cannot run. */
  private async sandboxBinary(options: CommandOptions): Promise<{ ok: true; binary: string | undefined } | { ok: false; reason: string }> {
    const request = options.sandbox;
    if (request === undefined || request.mode === 'none') return { ok: true, binary: undefined };
    const probe = await this.probe();
    if (probe.ok) return { ok: true, binary: probe.binary };
    return request.mode === 'bwrap' ? { ok: false, reason: `sandbox: bwrap was asked for, but ${probe.reason}` } : { ok: true, binary: undefined };
  }

  private launch(options: CommandOptions, command: string, binary: string | undefined): Launch {
    if (binary === undefined || options.sandbox === undefined) return { ok: true, file: 'sh', args: ['-c', command], sandboxed: false };
    this.host ??= this.options.sandboxHost ?? readSandboxHost(this.baseEnv);
    return { ok: true, file: binary, args: bwrapArgs(this.host, options.sandbox, options.cwd, command), sandboxed: true };
  }

  async run(options: CommandOptions): Promise<CommandResult> {
    const maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    const tail = new TailBuffer(options.captureBytes ?? DEFAULT_CAPTURE_BYTES);
    if (options.signal?.aborted === true) return { ...NOT_STARTED, aborted: true, output: '' };

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
    const mode = await this.sandboxBinary(options);
    const sandboxed = mode.ok && mode.binary !== undefined;
    // Inside bubblewrap the pid namespace ends every process with the command: a cgroup is only
    // needed there for limits, and the token sweep and the watchdog not at all.
    const limited = await limitCommand(options.command, options.limits ?? {}, { track: !sandboxed });
    const launch: Launch = mode.ok ? this.launch(options, limited.command, mode.binary) : mode;
    const where = launch.ok && launch.sandboxed ? ' (sandboxed)' : '';
    log.write(this.redactor.redact(`[ratchet] ${new Date().toISOString()} in ${options.cwd}${where}\n$ ${options.command}\n`));
    if (!launch.ok) {
      log.end(`[ratchet] could not start: ${launch.reason}\n`);
      await logClosed;
      await limited.release();
      return { ...NOT_STARTED, output: `${launch.reason}\n` };
    }

    // Output is redacted as bytes (latin1, one character per byte), so non-UTF-8 output survives.
    const redacting = bytesRedactor(this.redactor).stream();
    let logged = 0;
    let truncated = false;
    const record = (raw: Buffer): void => {
      const chunk = Buffer.from(redacting.push(raw.toString('latin1')), 'latin1');
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
    const flush = (): void => {
      const rest = redacting.end();
      if (rest !== '') {
        const chunk = Buffer.from(rest, 'latin1');
        tail.push(chunk);
        if (!truncated) log.write(chunk);
      }
    };

    const token = newProcessToken();
    const started = performance.now();
    // The command joins its cgroups before it runs anything, so no child escapes the limits.
    const [file, args] =
      limited.procs.length === 0
        ? [launch.file, launch.args]
        : ['sh', ['-c', JOIN_CGROUPS, 'ratchet-limits', ...limited.procs, '--', launch.file, ...launch.args]];
    const subprocess = execa(file, args, {
      cwd: options.cwd,
      env: { ...childEnv(this.baseEnv, { allowEnv: options.allowEnv, env: options.env, denyEnv: options.denyEnv }), [PROCESS_TOKEN_VAR]: token },
      extendEnv: false,
      detached: true,
      reject: false,
      stdin: 'ignore',
      all: true,
      buffer: false,
      encoding: 'buffer',
    });
    const pgid = subprocess.pid;
    if (pgid !== undefined) track(pgid, token, { watchdog: !launch.sandboxed });
    subprocess.all.on('data', (chunk: Uint8Array) => record(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));

    let timedOut = false;
    let aborted = false;
    let stopping: Promise<void> | undefined;
    // The group, then whatever left it (setsid, detached) but still carries the token: a child
    // that keeps the output pipe open would otherwise hold the command open past its end.
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        if (pgid !== undefined) await stopGroup(pgid, this.killGraceMs);
        if (!launch.sandboxed) await sweepToken(token);
        await limited.killMembers();
      })();
      return stopping;
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
    subprocess.once('exit', () => {
      clearTimeout(timer);
      // A process that left the group and cleared its environment (`env -i setsid …`) escapes
      // both; if it holds the output pipe, waiting for the pipe would wait for it. Once every
      // process we can find is stopped, read what is buffered, then stop reading.
      void stop()
        .then(() => new Promise((resolve) => setTimeout(resolve, PIPE_DRAIN_MS)))
        .then(() => {
          subprocess.stdout?.destroy();
          subprocess.stderr?.destroy();
        });
    });

    try {
      const result = await subprocess;
      await stop();
      flush();
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
        flush();
      }
      log.write(`[ratchet] ${footer} (${formatDuration(durationMs)})\n`);
      return {
        exitCode: result.exitCode,
        signal,
        timedOut,
        aborted: aborted && !timedOut,
        durationMs,
        output: this.redactor.redact(tail.text()),
        truncated,
        sandboxed: launch.sandboxed,
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) untrack(pgid);
      log.end();
      await logClosed;
      await limited.release();
    }
  }
}
