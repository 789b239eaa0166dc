/** The Redis a run uses: the user's (`--redis`, `REDIS_URL`) or a private one ratchet starts. */
import { join } from 'node:path';
import { checkRedisServer, parseRedisUrl, redisUrlFrom, type RedisOptions } from '../queue/connection.js';
import { startEmbeddedRedis } from '../queue/redis-server.js';

export interface RunRedis {
  connection: RedisOptions;
  /** A URL another process (`ratchet worker --redis URL`) can use. */
  url: string;
  embedded: boolean;
  warnings: string[];
  stop(): Promise<void>;
}

export async function openRunRedis(options: { flag?: string; runDir: string; signal?: AbortSignal }): Promise<RunRedis> {
  const url = redisUrlFrom(options.flag);
  if (url !== undefined) {
    const connection = parseRedisUrl(url);
    const check = await checkRedisServer(connection);
    return { connection, url, embedded: false, warnings: check.warnings, stop: () => Promise.resolve() };
  }
  // Persistence in the run folder: a resumed run finds the jobs it left.
  // The caller holds the run's session lock, so a server still running on the folder is an
  // orphan of a crashed session of this run.
  const server = await startEmbeddedRedis({ dir: join(options.runDir, 'redis'), replaceOrphan: true, ...(options.signal ? { signal: options.signal } : {}) });
  return { connection: server.connection, url: server.url, embedded: true, warnings: [], stop: () => server.stop() };
}
