/**
 * The runs orchestrators are serving: a Redis hash `<prefix>:runs`, run id → session id.
 * `ratchet worker` processes serve every run in it. The session is the orchestrator process
 * that owns the run now: a worker refuses a job enqueued by an earlier session (a crashed
 * `ratchet run` before this `ratchet resume`), whose worktree may be gone or re-created.
 * A crashed run stays listed (its idle queues cost a worker a few connections) until it is
 * resumed and closes, or someone unregisters it.
 */
import type { Redis } from 'ioredis';
import { DEFAULT_PREFIX, assertRunId, registryKey } from './names.js';

/** Lists the run and makes `session` its owner; a previous owner's unfinished jobs are refused. */
export async function registerRun(redis: Redis, runId: string, session: string, prefix: string = DEFAULT_PREFIX): Promise<void> {
  assertRunId(runId);
  await redis.hset(registryKey(prefix), runId, session);
}

// Only the owner unlists a run: a newer session may already have taken it over.
const UNREGISTER = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`;

export async function unregisterRun(redis: Redis, runId: string, session: string, prefix: string = DEFAULT_PREFIX): Promise<void> {
  await redis.eval(UNREGISTER, 1, registryKey(prefix), runId, session);
}

export async function registeredRuns(redis: Redis, prefix: string = DEFAULT_PREFIX): Promise<string[]> {
  return (await redis.hkeys(registryKey(prefix))).sort();
}

/** The session that owns the run now, if it is registered. */
export async function runSession(redis: Redis, runId: string, prefix: string = DEFAULT_PREFIX): Promise<string | undefined> {
  return (await redis.hget(registryKey(prefix), runId)) ?? undefined;
}
