/** The Redis a run uses: the user's (`--redis`, `REDIS_URL`) or a private one ratchet starts. */
import { join } from 'node:path';
import { checkRedisServer, parseRedisUrl, redisUrlFrom, type RedisOptions } from '../queue/connection.js';
import { startEmbeddedRedis } from '../queue/redis-server.js';
import { resolveJobKey } from './job-key.js';

export interface RunRedis {
  connection: RedisOptions;
  /** A URL another process (`ratchet worker --redis URL`) can use. */
  url: string;
  embedded: boolean;
  /** Signs the run's jobs and checks their results; see job-key.ts. */
  jobKey: Buffer;
  warnings: string[];
  /** A private server that died and could not be restarted; never fires for the user's Redis. */
  lost?: AbortSignal;
  stop(): Promise<void>;
}

export interface RunRedisOptions {
  flag?: string;
  runDir: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** A private server that died was started again from its append-only file. */
  onRestart?: (message: string) => void;
}

/** Throws the UserError a shared Redis without RATCHET_KEY gets, before anything is created. */
export function checkRunJobKey(options: Pick<RunRedisOptions, 'flag' | 'env'>): Buffer {
  return resolveJobKey({ shared: redisUrlFrom(options.flag, options.env) !== undefined, who: 'a run', ...(options.env ? { env: options.env } : {}) });
}

export async function openRunRedis(options: RunRedisOptions): Promise<RunRedis> {
  const url = redisUrlFrom(options.flag, options.env);
  const jobKey = checkRunJobKey(options);
  if (url !== undefined) {
    const connection = parseRedisUrl(url);
    const check = await checkRedisServer(connection);
    return { connection, url, embedded: false, jobKey, warnings: check.warnings, stop: () => Promise.resolve() };
  }
  // Persistence in the run folder: a resumed run finds the jobs it left.
  // The caller holds the run's session lock, so a server still running on the folder is an
  // orphan of a crashed session of this run.
  const server = await startEmbeddedRedis({
    dir: join(options.runDir, 'redis'),
    replaceOrphan: true,
    ...(options.signal ? { signal: options.signal } : {}),
    onRestart: ({ cause, downMs, pid }) => options.onRestart?.(`${cause}; restarted it from its append-only file in ${(downMs / 1000).toFixed(1)} s (pid ${pid}), the run goes on`),
  });
  return { connection: server.connection, url: server.url, embedded: true, jobKey, warnings: [], lost: server.lost, stop: () => server.stop() };
}
