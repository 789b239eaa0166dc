import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, UserError } from '../../src/domain/errors.js';
import { parseRedisUrl } from '../../src/queue/connection.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/queue/redis-server.js';
import { alive } from './support.js';

const dirs: string[] = [];
const servers: EmbeddedRedis[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ratchet-embedded-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, binary?: string): Promise<EmbeddedRedis> {
  const server = await startEmbeddedRedis({ dir, ...(binary === undefined ? {} : { binary }) });
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function withClient<T>(server: EmbeddedRedis, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(parseRedisUrl(server.url));
  try {
    return await use(redis);
  } finally {
    await redis.quit();
  }
}

/** One inline command on a fresh connection, with no AUTH: the first reply line. */
function rawCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = createConnection(socket);
    let reply = '';
    connection.once('error', reject);
    connection.once('connect', () => connection.write(`${command}\r\n`));
    connection.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        connection.destroy();
        resolve(reply.split('\r\n')[0] ?? '');
      }
    });
  });
}

describe('startEmbeddedRedis', () => {
  it('serves on a unix socket only, with noeviction and append-only persistence', async () => {
    const server = await start(await tempDir());

    const config = await withClient(server, async (redis) => ({
      port: await redis.config('GET', 'port'),
      policy: await redis.config('GET', 'maxmemory-policy'),
      aof: await redis.config('GET', 'appendonly'),
      fsync: await redis.config('GET', 'appendfsync'),
      save: await redis.config('GET', 'save'),
    }));

    expect(config).toEqual({
      port: ['port', '0'],
      policy: ['maxmemory-policy', 'noeviction'],
      aof: ['appendonly', 'yes'],
      fsync: ['appendfsync', 'everysec'],
      save: ['save', ''],
    });
  });

  it('refuses a client without its password and serves one with it', async () => {
    const server = await start(await tempDir());
    const { password, ...withoutPassword } = parseRedisUrl(server.url);

    expect(withoutPassword).toEqual({ path: server.socket });

    expect(await rawCommand(server.socket, 'PING')).toMatch(/^-NOAUTH/);
    expect(password).toMatch(/^[0-9a-f]{64}$/);
    expect(await withClient(server, (redis) => redis.ping())).toBe('PONG');
  });

  it('takes a new password at every start and never shows it in a command line', async () => {
    const dir = await tempDir();
    // A stand-in binary that records the arguments it was given, then becomes redis-server.
    const wrapper = join(dir, 'redis-server-wrapper');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" > '${join(dir, 'args.txt')}'\nexec redis-server "$@"\n`);
    await chmod(wrapper, 0o755);

    const first = await start(join(dir, 'data'), wrapper);
    const firstPassword = parseRedisUrl(first.url).password ?? '';
    const cmdline = await readFile(`/proc/${first.pid}/cmdline`, 'utf8');
    const args = await readFile(join(dir, 'args.txt'), 'utf8');
    await first.stop();
    const second = await start(join(dir, 'data'));

    expect(firstPassword).not.toBe('');
    expect(cmdline).toContain('redis-server');
    expect(cmdline).not.toContain(firstPassword);
    expect(args).toContain('--unixsocket');
    expect(args).not.toContain(firstPassword);
    expect(parseRedisUrl(second.url).password).not.toBe(firstPassword);
  });

  it('keeps the socket in a folder only its owner can enter', async () => {
    const root = await tempDir();
    const short = await start(join(root, 'short'));
    const long = await start(join(root, 'a-rather-long-folder-name-for-a-run'.repeat(3)));

    for (const server of [short, long]) expect((await stat(dirname(server.socket))).mode & 0o777).toBe(0o700);
    expect((await stat(short.socket)).mode & 0o777).toBe(0o700);
  });

  it('keeps its data across a stop and a start on the same folder', async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await withClient(first, (redis) => redis.set('ratchet:test', 'kept'));
    await first.stop();

    expect(alive(first.pid)).toBe(false);
    expect(await readdir(dir)).toContain('appendonlydir');
    const second = await start(dir);
    expect(await withClient(second, (redis) => redis.get('ratchet:test'))).toBe('kept');
  });

  it('puts the socket in a short temporary folder when the data folder path is too long for one', async () => {
    const dir = join(await tempDir(), 'a-rather-long-folder-name-for-a-run'.repeat(3));
    const server = await start(dir);

    expect(server.socket.startsWith(dir)).toBe(false);
    expect(await withClient(server, (redis) => redis.ping())).toBe('PONG');
  });

  it('refuses to start a second server on a folder whose server still runs', async () => {
    const dir = await tempDir();
    const running = await start(dir);

    const second = startEmbeddedRedis({ dir });

    await expect(second).rejects.toBeInstanceOf(UserError);
    await expect(second).rejects.toThrow(`pid ${running.pid}`);
  });

  it('says how to install redis-server or use REDIS_URL when the binary is missing', async () => {
    const dir = await tempDir();

    const error: unknown = await startEmbeddedRedis({ dir, env: { PATH: dir } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UserError);
    const hint = (error as UserError).hint ?? '';
    for (const fix of ['apt-get install redis-server', 'brew install redis', 'REDIS_URL', 'docker compose up -d redis']) expect(hint).toContain(fix);
  });

  it('gives up starting when its signal fires, leaving no server behind', async () => {
    const dir = await tempDir();
    const controller = new AbortController();

    const starting = startEmbeddedRedis({ dir, signal: controller.signal });
    controller.abort();

    await expect(starting).rejects.toBeInstanceOf(AbortedError);
    expect(await withClient(await start(dir), (redis) => redis.ping())).toBe('PONG');
  });
});
