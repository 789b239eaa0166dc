import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, UserError } from '../../src/core/errors.js';
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

async function start(dir: string): Promise<EmbeddedRedis> {
  const server = await startEmbeddedRedis({ dir });
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
