/**
 * The Redis ratchet starts itself when no `REDIS_URL` is given: a private `redis-server` on a
 * unix socket (no TCP port), persisting to an append-only file in the run's folder so that
 * `ratchet resume` finds its queues again, and stopped with the run.
 *
 * Two locks on it: the socket and its folder are 0700 (no other user gets in), and a random
 * password, new for each start, is asked of every client (a process of ours that found the
 * socket is not enough). The password reaches the server on its stdin, so it is never in a
 * command line (`ps`, `/proc/<pid>/cmdline`) nor in a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AbortedError, UserError } from '../core/errors.js';
import type { RedisOptions } from './connection.js';

export interface EmbeddedRedisOptions {
  /** Data folder: the append-only files, `redis.log`, `redis.pid` and (when short enough) the socket. */
  dir: string;
  /** Cancels startup only; a started server runs until `stop()`, so a run can still tidy its queues. */
  signal?: AbortSignal;
  /** The server binary; `redis-server` on PATH by default. */
  binary?: string;
  /** Environment of the server (and the PATH it is looked up on); ours by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * Stop a redis-server still running on `dir` instead of refusing to start: for a caller that
   * knows it is an orphan (it holds the run's session lock, so no live session owns it).
   */
  replaceOrphan?: boolean;
  /** How long loading a large append-only file may take before we give up. */
  startTimeoutMs?: number;
}

export interface EmbeddedRedis {
  socket: string;
  /** The socket and password as a URL other ratchet processes accept (`--redis`, `REDIS_URL`). */
  url: string;
  connection: RedisOptions;
  pid: number;
  /** Shuts the server down (SIGTERM: Redis flushes the append-only file) and waits for it. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'install it (apt-get install redis-server, or brew install redis), or point REDIS_URL at a running Redis (docker compose up -d redis)';

// sun_path holds 104 bytes on macOS, 108 on Linux; keep a margin for the terminating byte.
const MAX_SOCKET_PATH = 100;

export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  if (options.signal?.aborted === true) throw new AbortedError();
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // It holds the socket and the append-only files; one made by an older ratchet may be open.
  await chmod(dir, 0o700);
  await refuseLiveServer(dir, options.replaceOrphan === true);

  let socketDir: string | undefined;
  let socket = join(dir, 'redis.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    socketDir = await mkdtemp(join(tmpdir(), 'ratchet-redis-'));
    socket = join(socketDir, 'redis.sock');
  }
  const logFile = join(dir, 'redis.log');
  const password = randomBytes(32).toString('hex');
  const args = [
    '-', // the rest of the configuration (the password) comes on stdin
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--pidfile', join(dir, 'redis.pid'),
    '--logfile', logFile,
  ];
  const binary = options.binary ?? 'redis-server';
  const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'pipe'], env: options.env ?? process.env });
  // A server that failed to start closes its stdin; that failure is reported from its exit.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(`requirepass ${password}\n`);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });

  const cleanup = async (): Promise<void> => {
    await terminate(child, exited);
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
  };

  try {
    await waitUntilReady({ child, socket, password, exited, signal: options.signal, deadline: Date.now() + (options.startTimeoutMs ?? 60_000) });
  } catch (error) {
    await cleanup();
    if (isMissingBinary(error)) {
      throw new UserError(`cannot start ${binary}: it is not installed or not on PATH`, { hint: INSTALL_HINT, cause: error, fields: { binary } });
    }
    if (error instanceof EarlyExit) {
      const log = await readTail(logFile);
      throw new UserError(`${binary} stopped while starting (${error.describe()}): ${lastLines(`${log}\n${stderr}`)}`, {
        hint: `see ${logFile}`,
        fields: { binary, dir },
      });
    }
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    socket,
    url: `redis+unix://${socket}?password=${password}`,
    connection: { path: socket, password },
    pid: child.pid ?? -1,
    stop: () => (stopping ??= cleanup()),
  };
}

class EarlyExit extends Error {
  constructor(readonly code: number | null, readonly signal: NodeJS.Signals | null) {
    super('redis-server exited');
  }
  describe(): string {
    return this.signal !== null ? `signal ${this.signal}` : `exit code ${String(this.code)}`;
  }
}

function isMissingBinary(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function waitUntilReady(input: {
  child: ChildProcess;
  socket: string;
  password: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal: AbortSignal | undefined;
  deadline: number;
}): Promise<void> {
  let settled = false;
  let onAbort = (): void => undefined;
  const failed = new Promise<never>((_, reject) => {
    input.child.on('error', reject);
    void input.exited.then(({ code, signal }) => reject(new EarlyExit(code, signal)));
    onAbort = () => reject(new AbortedError());
    if (input.signal?.aborted === true) onAbort();
    input.signal?.addEventListener('abort', onAbort, { once: true });
  });
  failed.catch(() => undefined); // observed through the race below
  const ready = (async () => {
    // Redis answers -LOADING while it replays the append-only file; only +PONG means ready.
    while (!settled) {
      if (await ping(input.socket, input.password)) return;
      if (Date.now() > input.deadline) throw new UserError(`redis-server did not answer on ${input.socket} in time`, { hint: 'see redis.log in the run folder' });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await Promise.race([ready, failed]);
  } finally {
    settled = true;
    input.signal?.removeEventListener('abort', onAbort);
  }
}

/** AUTH then PING, inline (the password is hex): ready once the second reply is +PONG. */
function ping(socket: string, password: string): Promise<boolean> {
  return new Promise((done) => {
    const connection = createConnection(socket);
    let reply = '';
    const finish = (ok: boolean): void => {
      connection.destroy();
      done(ok);
    };
    connection.setTimeout(1000, () => finish(false));
    connection.once('error', () => finish(false));
    connection.once('connect', () => connection.write(`AUTH ${password}\r\nPING\r\n`));
    connection.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const lines = reply.split('\r\n');
      if (lines.length > 2) finish(lines[0] === '+OK' && lines[1] === '+PONG');
    });
  });
}

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const killed = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    await exited;
  } finally {
    clearTimeout(killed);
  }
}

/**
 * Two servers on one append-only file would corrupt it: a server left running by a crashed
 * ratchet (its pid file is still there and the process lives) must be stopped by the user.
 */
async function refuseLiveServer(dir: string, replace: boolean): Promise<void> {
  const pidFile = join(dir, 'redis.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !(await isRedisProcess(pid))) return;
  if (replace) {
    // SIGTERM lets it flush its append-only file; SIGKILL if it will not go.
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; waited < 10_000 && (await isRedisProcess(pid)); waited += 100) await new Promise((r) => setTimeout(r, 100));
    if (await isRedisProcess(pid)) process.kill(pid, 'SIGKILL');
    return;
  }
  throw new UserError(`a redis-server (pid ${pid}) is still running on ${dir}`, {
    hint: `stop it first (kill ${pid}); it is most likely left over from an interrupted run`,
    fields: { pid, dir },
  });
}

async function isRedisProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  // Guard against a recycled pid: only a redis-server counts.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('redis');
}

async function readTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.slice(-4000);
}

function lastLines(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.slice(-3).join(' | ') || 'no output';
}
