/**
 * Starts git through a small long-lived helper process instead of forking this one. A fork copies
 * the page tables of the whole process, and node makes it on the main thread: measured on this
 * project's machines, a spawn from a process of 150 MB blocks the event loop for 4.5 ms and
 * from one of 300 MB for 7 ms, against 2.5 ms for all of `git --version` run by a helper of
 * 45 MB. ratchet runs git a dozen times per experiment, so the forks were much of the
 * orchestrator's overhead and, with many workers, of the machine's CPU.
 *
 * The helper is a plain node script (below, run with `node -e`, so it needs no file of ours
 * on disk): requests arrive on its stdin, one JSON line each followed by the bytes of the
 * command's input; each reply is one JSON line followed by the command's stdout and stderr.
 * It ignores SIGINT and SIGTERM (a Ctrl-C reaches the whole process group; ratchet's shutdown
 * still needs git) and exits when its stdin ends: when ratchet closes it after a while idle,
 * exits, or is killed. A helper that dies fails the commands it had (they may have run), and
 * the next command starts a new one.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const SERVER = String.raw`
const { spawn } = require('node:child_process');
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf(10);
    if (end < 0) return;
    const request = JSON.parse(buffer.subarray(0, end).toString('utf8'));
    const size = request.inputBytes || 0;
    if (buffer.length < end + 1 + size) return;
    const input = request.inputBytes === undefined ? undefined : buffer.subarray(end + 1, end + 1 + size);
    buffer = buffer.subarray(end + 1 + size);
    run(request, input);
  }
});
process.stdin.on('end', () => process.exit(0));
function run(request, input) {
  const out = [];
  const err = [];
  let outBytes = 0;
  let kept = 0;
  // -1 while the separator is looked for; then the bytes up to and with it (0: none asked for).
  let head = request.keepAfter === undefined ? 0 : -1;
  const separator = request.keepAfter === undefined ? undefined : Buffer.from(request.keepAfter, 'hex');
  let done = false;
  const reply = (fields) => {
    if (done) return;
    done = true;
    const stdout = Buffer.concat(out);
    const stderr = Buffer.concat(err);
    process.stdout.write(JSON.stringify({ id: request.id, ...fields, outBytes, headBytes: head, stdoutBytes: stdout.length, stderrBytes: stderr.length }) + '\n');
    process.stdout.write(stdout);
    process.stdout.write(stderr);
  };
  const keep = (chunk) => {
    if (request.maxBytes === undefined || kept + chunk.length <= request.maxBytes) {
      out.push(chunk);
      kept += chunk.length;
    } else if (kept < request.maxBytes) {
      out.push(chunk.subarray(0, request.maxBytes - kept));
      kept = request.maxBytes;
    }
  };
  let child;
  try {
    child = spawn(request.file, request.args, { cwd: request.cwd, env: { ...process.env, ...request.env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (error) {
    reply({ error: String(error && error.message), code: error && error.code });
    return;
  }
  let seen = Buffer.alloc(0);
  child.stdout.on('data', (chunk) => {
    outBytes += chunk.length;
    if (head !== -1) return keep(chunk);
    // Everything up to the separator is kept whole; the cap counts from after it.
    const from = Math.max(0, seen.length - separator.length + 1);
    seen = Buffer.concat([seen, chunk]);
    const at = seen.indexOf(separator, from);
    if (at < 0) return;
    head = at + separator.length;
    out.push(seen.subarray(0, head));
    const rest = seen.subarray(head);
    seen = Buffer.alloc(0);
    if (rest.length > 0) keep(rest);
  });
  child.stderr.on('data', (chunk) => err.push(chunk));
  child.on('error', (error) => reply({ error: error.message, code: error.code }));
  child.on('close', (exit, signal) => {
    if (head === -1 && seen.length > 0) out.push(seen);
    reply({ exit, signal });
  });
  if (input !== undefined) {
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  }
}
`;

export interface SpawnRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  /** Added to (or overriding) the helper's environment, which is the one it was started with. */
  env?: Record<string, string>;
  input?: string;
  /** Keep at most this many bytes of stdout (after `keepAfter`'s separator, when given); all are counted. */
  maxBytes?: number;
  /** Hex bytes: stdout up to and with their first occurrence is kept whole, `maxBytes` counts after. */
  keepAfter?: string;
}

export interface SpawnReply {
  /** The exit code; undefined when the command could not start or was killed (`why` says). */
  exitCode: number | undefined;
  why?: string;
  /** The error code of a command that could not start (ENOENT: no such program). */
  errorCode?: string;
  stdout: Buffer;
  stderr: string;
  /** Every byte the command wrote to stdout, kept or not. */
  stdoutBytes: number;
  /** With `keepAfter`: the bytes up to and with the separator (-1: it never came, all was kept); 0 without. */
  headBytes: number;
}

interface Header {
  id: number;
  exit?: number | null;
  signal?: string | null;
  error?: string;
  code?: string;
  outBytes: number;
  headBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
}

/** A helper closes after this long without a command; the next command starts a new one. */
const IDLE_MS = 30_000;

export class Spawner {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, (reply: SpawnReply) => void>();
  private next = 1;
  private buffer: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | undefined;

  /** `env`: the helper's environment, which every command starts from. */
  constructor(private readonly env: Record<string, string>) {}

  run(request: SpawnRequest): Promise<SpawnReply> {
    const child = this.child ?? this.start();
    clearTimeout(this.idle);
    const id = this.next++;
    const input = request.input === undefined ? undefined : Buffer.from(request.input, 'utf8');
    const header = { id, file: request.file, args: request.args, cwd: request.cwd, env: request.env ?? {}, maxBytes: request.maxBytes, keepAfter: request.keepAfter, inputBytes: input?.length };
    this.refWhileBusy(child, true);
    return new Promise((settle) => {
      this.pending.set(id, settle);
      child.stdin?.write(`${JSON.stringify(header)}\n`);
      if (input !== undefined && input.length > 0) child.stdin?.write(input);
    });
  }

  /** The helper's process id while one runs (for tests of its lifetime). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the helper (it finishes what it runs); the next command starts a new one. */
  close(): void {
    clearTimeout(this.idle);
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private start(): ChildProcess {
    const child = spawn(process.execPath, ['-e', SERVER], { env: this.env, stdio: ['pipe', 'pipe', 'ignore'] });
    this.child = child;
    this.buffer = Buffer.alloc(0);
    child.stdout?.on('data', (chunk: Buffer) => this.receive(chunk));
    const gone = (why: string): void => {
      if (this.child === child) this.child = undefined;
      // The commands it had may have run: they fail, none is started again.
      for (const [id, settle] of this.pending) {
        this.pending.delete(id);
        settle({ exitCode: undefined, why: `the helper that starts git ${why}`, stdout: Buffer.alloc(0), stderr: '', stdoutBytes: 0, headBytes: -1 });
      }
    };
    child.once('error', (error) => gone(`could not run: ${error.message}`));
    child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${String(code)}`})`));
    child.stdin?.on('error', () => undefined);
    return child;
  }

  /** Keeps this process alive while commands run, and lets it exit when none do. */
  private refWhileBusy(child: ChildProcess, busy: boolean): void {
    const handles = [child, child.stdin, child.stdout] as ({ ref(): unknown; unref(): unknown } | null)[];
    for (const handle of handles) {
      if (busy) handle?.ref();
      else handle?.unref();
    }
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf(10);
      if (end < 0) return;
      const header = JSON.parse(this.buffer.subarray(0, end).toString('utf8')) as Header;
      const total = end + 1 + header.stdoutBytes + header.stderrBytes;
      if (this.buffer.length < total) return;
      const stdout = Buffer.from(this.buffer.subarray(end + 1, end + 1 + header.stdoutBytes));
      const stderr = this.buffer.subarray(end + 1 + header.stdoutBytes, total).toString('utf8');
      this.buffer = this.buffer.subarray(total);
      const settle = this.pending.get(header.id);
      this.pending.delete(header.id);
      const exitCode = header.exit === null || header.exit === undefined ? undefined : header.exit;
      const why = header.error ?? (exitCode === undefined ? `killed by ${header.signal ?? 'a signal'}` : undefined);
      settle?.({
        exitCode,
        ...(why === undefined ? {} : { why }),
        ...(header.code === undefined ? {} : { errorCode: header.code }),
        stdout,
        stderr,
        stdoutBytes: header.outBytes,
        headBytes: header.headBytes,
      });
      if (this.pending.size === 0 && this.child !== undefined) this.rest(this.child);
    }
  }

  /** Nothing running: the helper may not keep this process alive, and closes when idle long enough. */
  private rest(child: ChildProcess): void {
    this.refWhileBusy(child, false);
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.close(), IDLE_MS);
    this.idle.unref();
  }
}
