/** `rediss://`: a stage job through a Redis that speaks TLS only, its certificate verified. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { BullEvaluationQueue } from '../../src/queue/bullmq-queue.js';
import { checkRedisServer, parseRedisUrl } from '../../src/queue/connection.js';
import { startWorker } from '../../src/queue/worker.js';
import { testJobKey, uniquePrefix } from '../helpers/redis.js';
import { startTlsRedis, type TlsRedis } from '../helpers/tls-redis.js';
import { combine, newRunId, recordingExecutor, request } from './support.js';

let server: TlsRedis;
beforeAll(async () => {
  server = await startTlsRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('a Redis over TLS', () => {
  it('carries a stage job both ways when the URL names the CA with ?ca=', async () => {
    const connection = parseRedisUrl(`rediss://:${server.password}@localhost:${server.port}?ca=${encodeURIComponent(server.ca)}`);
    const prefix = uniquePrefix('tls');
    const run = newRunId();
    const { calls, executor } = recordingExecutor();
    const worker = await startWorker({ connection, key: testJobKey(), prefix, runs: [run], executor });
    const queue = new BullEvaluationQueue({ connection, key: testJobKey(), prefix, combine, pollMs: 500 });
    try {
      const evaluation = await queue.evaluate(request(run), new AbortController().signal);

      expect(evaluation.status).toBe('ok');
      expect(calls.map((c) => c.stage)).toEqual(['setup', 'checks', 'bench']);
    } finally {
      await queue.close();
      await worker.close();
    }
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const connection = parseRedisUrl(`rediss://:${server.password}@localhost:${server.port}`);

    const error: unknown = await checkRedisServer(connection, { timeoutMs: 3000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/self[- ]signed certificate/);
  });
});
