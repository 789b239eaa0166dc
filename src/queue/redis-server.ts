/**
 * The Redis ratchet starts itself when no `REDIS_URL` is given: a private `redis-server` on a
 * unix socket (no TCP port), persisting to an append-only file in the run's folder so that
 * `ratchet resume` finds its queues again, and stopped with the run.
 *
 * Two locks on it: the socket and its folder are 0700 (no other user gets in), and a random
 * password, new for each start, is asked of every client (a process of ours that found the
 * socket is not enough). The password reaches the server on its stdin, so it is never in a
 * command line (`ps`, `/proc/<pid>/cmdline`) nor in a file.
 *
 * The server is watched: one that dies under the run (OOM killer, a stray `kill`) is started
 * again on the same socket, password and folder, from its append-only file, a few times at most;
 * the clients reconnect by themselves. When it cannot be brought back, `lost` fires with the
 * reason, so the run stops with an error rather than waiting on a Redis that is gone. It runs in
 * its own process group (a Ctrl-C in the terminal is ratchet's to handle, not Redis's) and is
 * sent SIGTERM when ratchet exits, however abruptly, short of SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AbortedError, UserError } from '../domain/errors.js';
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
  /** Restarts allowed after the server died under us (default 3); `lost` fires after the last. */
  maxRestarts?: number;
  /** Told of each restart, with what stopped the server and how long it was away. */
  onRestart?: (info: { cause: string; downMs: number; pid: number }) => void;
}

export interface EmbeddedRedis {
  socket: string;
  /** The socket and password as a URL other ratchet processes accept (`--redis`, `REDIS_URL`). */
  url: string;
  connection: RedisOptions;
  /** The server's pid now (it changes when the server is restarted). */
  readonly pid: number;
  /** Fires (its reason an Error saying what happened) when the server died and could not be restarted. */
  lost: AbortSignal;
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
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;

  /** One server process, ready; a UserError saying why when it would not start. */
  const launch = async (signal: AbortSignal | undefined): Promise<Server> => {
    const server = spawnServer(binary, args, password, options.env ?? process.env);
    try {
      await waitUntilReady({ child: server.child, socket, password, exited: server.exited, signal, deadline: Date.now() + startTimeoutMs });
      return server;
    } catch (error) {
      await terminate(server);
      if (isMissingBinary(error)) {
        throw new UserError(`cannot start ${binary}: it is not installed or not on PATH`, { hint: INSTALL_HINT, cause: error, fields: { binary } });
      }
      if (error instanceof EarlyExit) {
        const log = await readTail(logFile);
        throw new UserError(`${binary} stopped while starting (${error.describe()}): ${lastLines(`${log}\n${server.stderr()}`)}`, {
          hint: `see ${logFile}`,
          fields: { binary, dir },
        });
      }
      throw error;
    }
  };

  let current: Server;
  try {
    current = await launch(options.signal);
  } catch (error) {
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
    throw error;
  }

  const lost = new AbortController();
  let stopping: Promise<void> | undefined;
  let restarts = 0;
  const maxRestarts = options.maxRestarts ?? 3;
  const supervise = (server: Server): void => {
    void server.exited.then(async (how) => {
      if (stopping !== undefined || lost.signal.aborted) return;
      const cause = `${binary} (pid ${server.child.pid ?? '?'}) stopped unexpectedly (${new EarlyExit(how.code, how.signal).describe()})`;
      const downAt = Date.now();
      while (restarts < maxRestarts && stopping === undefined) {
        restarts += 1;
        try {
          current = await launch(lost.signal);
        } catch (error) {
          if (restarts >= maxRestarts || stopping !== undefined) {
            lost.abort(new Error(`${cause}, and could not be restarted: ${error instanceof Error ? error.message : String(error)}`));
            return;
          }
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        if (stopping !== undefined) return; // stop() will find it and end it
        supervise(current);
        options.onRestart?.({ cause, downMs: Date.now() - downAt, pid: current.child.pid ?? -1 });
        return;
      }
      if (stopping === undefined) lost.abort(new Error(`${cause} ${maxRestarts} times; not restarting it again`));
    });
  };
  supervise(current);

  const cleanup = async (): Promise<void> => {
    await terminate(current);
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
  };
  return {
    socket,
    url: `redis+unix://${socket}?password=${password}`,
    connection: { path: socket, password },
    get pid() {
      return current.child.pid ?? -1;
    },
    lost: lost.signal,
    stop: () => (stopping ??= cleanup()),
  };
}

interface Server {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

// Servers still running, sent SIGTERM if ratchet exits without stopping them (a second Ctrl-C).
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function spawnServer(binary: string, args: string[], password: string, env: NodeJS.ProcessEnv): Server {
  if (!exitHookInstalled) {
    // Synchronous, as an exit handler must be; SIGTERM makes Redis flush its append-only file.
    process.on('exit', () => running.forEach((child) => child.kill('SIGTERM')));
    exitHookInstalled = true;
  }
  // Its own process group: the terminal's SIGINT goes to ratchet, which stops Redis last.
  const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'pipe'], env, detached: true });
  running.add(child);
  // A server that failed to start closes its stdin; that failure is reported from its exit.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(`requirepass ${password}\n`);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      done({ code, signal });
    });
  });
  // A spawn failure (ENOENT) has no exit; waitUntilReady reports it from the error event.
  child.once('error', () => running.delete(child));
  return { child, exited, stderr: () => stderr };
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

async function terminate({ child, exited }: Server): Promise<void> {
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
