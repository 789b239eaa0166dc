import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import {
  checkRedisServer,
  describeRedis,
  parseRedisUrl,
  producerRedisOptions,
  redisUrlFrom,
  workerRedisOptions,
} from '../../src/queue/connection.js';
import { cancelMarkerKey, queueName, registryKey, runOfQueue, stageJobId } from '../../src/queue/names.js';
import { testRedisSocket } from '../helpers/redis.js';

describe('parseRedisUrl', () => {
  it('reads host, port, credentials and database from redis://', () => {
    expect(parseRedisUrl('redis://worker:s%40cret@redis.example:6380/2')).toEqual({
      host: 'redis.example',
      port: 6380,
      username: 'worker',
      password: 's@cret',
      db: 2,
    });
    expect(parseRedisUrl('redis://localhost')).toEqual({ host: 'localhost', port: 6379 });
  });

  it('turns on TLS for rediss://', () => {
    expect(parseRedisUrl('rediss://:pw@cache.example')).toEqual({
      host: 'cache.example',
      port: 6379,
      password: 'pw',
      tls: { servername: 'cache.example' },
    });
  });

  it('verifies rediss:// against the CA file ?ca= names, and sends no host name for an address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ratchet-ca-'));
    try {
      await writeFile(join(dir, 'ca.pem'), 'PEM TEXT');
      expect(parseRedisUrl(`rediss://cache.example?ca=${join(dir, 'ca.pem')}`).tls).toEqual({ servername: 'cache.example', ca: 'PEM TEXT' });
      expect(parseRedisUrl('rediss://10.0.0.7:6380').tls).toEqual({});
      expect(() => parseRedisUrl(`rediss://cache.example?ca=${join(dir, 'missing.pem')}`)).toThrow(/cannot read the CA file/);
      expect(() => parseRedisUrl(`redis://cache.example?ca=${join(dir, 'ca.pem')}`)).toThrow(/not a rediss:\/\/ URL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a socket path from redis+unix://, unix:// or a bare path', () => {
    expect(parseRedisUrl('redis+unix:///run/ratchet/redis.sock')).toEqual({ path: '/run/ratchet/redis.sock' });
    expect(parseRedisUrl('unix:///tmp/r.sock?db=3&password=pw')).toEqual({ path: '/tmp/r.sock', db: 3, password: 'pw' });
    expect(parseRedisUrl('/tmp/r.sock')).toEqual({ path: '/tmp/r.sock' });
  });

  it('rejects what it cannot read with the accepted forms, never echoing a password', () => {
    for (const bad of ['http://host', 'redis://host/not-a-db', 'unix://', 'not a url :pw@']) {
      expect(() => parseRedisUrl(bad)).toThrow(UserError);
    }
    const error = (() => {
      try {
        parseRedisUrl('ftp://user:hunter2@host');
      } catch (e) {
        return e as UserError;
      }
      return undefined;
    })();
    expect(error?.hint).toContain('redis+unix://');
    expect(error?.message).not.toContain('hunter2');
    expect(() => parseRedisUrl('redis+unix://?password=hunter2')).toThrow(UserError);
    expect(() => parseRedisUrl('redis+unix://?password=hunter2')).not.toThrow(/hunter2/);
  });
});

describe('connection profiles', () => {
  it('makes workers wait out a Redis restart and producers fail fast', () => {
    const base = parseRedisUrl('redis://localhost');
    expect(workerRedisOptions(base).maxRetriesPerRequest).toBeNull();
    expect(producerRedisOptions(base)).toMatchObject({ maxRetriesPerRequest: 1, enableOfflineQueue: false });
  });

  it('prefers the --redis flag over REDIS_URL, and treats empty as unset', () => {
    expect(redisUrlFrom('redis://flag', { REDIS_URL: 'redis://env' })).toBe('redis://flag');
    expect(redisUrlFrom(undefined, { REDIS_URL: 'redis://env' })).toBe('redis://env');
    expect(redisUrlFrom(undefined, { REDIS_URL: ' ' })).toBeUndefined();
  });

  it('describes a connection without its password', () => {
    expect(describeRedis(parseRedisUrl('rediss://:pw@cache.example:6380/1'))).toBe('rediss://cache.example:6380/1');
  });
});

describe('checkRedisServer', () => {
  it('accepts a server with maxmemory-policy noeviction without warnings', async () => {
    const check = await checkRedisServer({ path: testRedisSocket() });

    expect(check.maxmemoryPolicy).toBe('noeviction');
    expect(check.warnings).toEqual([]);
  });

  it('says how to get a Redis when none answers', async () => {
    const error: unknown = await checkRedisServer({ path: '/nonexistent/redis.sock' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain('unix:///nonexistent/redis.sock');
    expect((error as UserError).hint).toContain('docker compose up -d redis');
  });
});

describe('queue names', () => {
  it('names a run’s queues and jobs without colons, deterministically', () => {
    expect(queueName('2026-11-21-sort-a1b2', 'work')).toBe('2026-11-21-sort-a1b2.work');
    expect(stageJobId('2026-11-21-sort-a1b2', 'e0003', 'bench')).toBe('2026-11-21-sort-a1b2.e0003.bench');
    expect(runOfQueue('2026-11-21-sort-a1b2.bench')).toEqual({ runId: '2026-11-21-sort-a1b2', role: 'bench' });
    expect(runOfQueue('runs')).toBeUndefined();
  });

  it('refuses run ids that would break a key', () => {
    for (const bad of ['a:b', '', 'a.b', 'a b']) expect(() => queueName(bad, 'work')).toThrow(UserError);
  });

  it('keeps its own keys out of any queue’s keyspace', () => {
    const queue = queueName('r1', 'work');
    expect(registryKey('ratchet')).toBe('ratchet:runs');
    expect(cancelMarkerKey('ratchet', queue, 'r1.e0001.setup').startsWith(`ratchet:${queue}:`)).toBe(false);
  });
});
