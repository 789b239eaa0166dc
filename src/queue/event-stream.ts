/**
 * A run's events on Redis, for `ratchet watch --redis` on a machine without the run folder.
 * Each event is one entry of a capped stream `<prefix>:<run>:events` (field `event`, the JSON
 * line); the run's run.json is a plain key beside it. The run folder stays the source of truth:
 * the stream is a best-effort copy, trimmed to about 10 000 entries, so a watcher that joins
 * a very long run late may miss its beginning.
 */
import { Redis } from 'ioredis';
import { eventSchema, type RunEvent } from '../domain/events.js';
import type { RunInfo } from '../store/run-dir.js';
import { type RedisOptions, connectRedis, workerRedisOptions } from './connection.js';
import { DEFAULT_PREFIX, assertPrefix, assertRunId } from './names.js';

export const DEFAULT_STREAM_LENGTH = 10_000;
const PAGE = 500;
const BLOCK_MS = 5_000;

export function eventStreamKey(prefix: string, runId: string): string {
  assertPrefix(prefix);
  assertRunId(runId);
  return `${prefix}:${runId}:events`;
}

export function runInfoKey(prefix: string, runId: string): string {
  assertPrefix(prefix);
  assertRunId(runId);
  return `${prefix}:${runId}:info`;
}

/**
 * A listener for `store.onEvent` that XADDs each event. Fire and forget: a Redis error goes to
 * `onError` once (until a write succeeds again) and never reaches the run.
 */
export function publishEvents(
  redis: Redis,
  prefix: string,
  runId: string,
  options: { maxLen?: number; onError?: (error: Error) => void } = {},
): (event: RunEvent) => void {
  const key = eventStreamKey(prefix, runId);
  const maxLen = options.maxLen ?? DEFAULT_STREAM_LENGTH;
  let failing = false;
  return (event) => {
    // One connection keeps commands in order, so the stream keeps the events' order.
    redis.xadd(key, 'MAXLEN', '~', maxLen, '*', 'event', JSON.stringify(event)).then(
      () => (failing = false),
      (error: unknown) => {
        if (!failing) options.onError?.(error instanceof Error ? error : new Error(String(error)));
        failing = true;
      },
    );
  };
}

export interface EventPublisher {
  publish: (event: RunEvent) => void;
  /** Sends what is queued and disconnects; also happens by itself after `run_stopped`. */
  close: () => Promise<void>;
}

const NO_PUBLISHER: EventPublisher = { publish: () => undefined, close: () => Promise.resolve() };

/**
 * Connects, stores the run's info and returns a publisher; never throws, since watching from
 * afar is not worth stopping a run for. The publisher closes itself after the session's last
 * event (`run_stopped`), and its socket never keeps the process alive.
 */
export async function openEventPublisher(
  connection: RedisOptions,
  info: RunInfo,
  options: { prefix?: string; maxLen?: number; onError?: (error: Error) => void } = {},
): Promise<EventPublisher> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const onError = options.onError ?? (() => undefined);
  let redis: Redis;
  try {
    redis = await connectRedis(connection, 'producer');
    redis.on('error', () => undefined); // reported per command through onError
    await redis.set(runInfoKey(prefix, info.runId), JSON.stringify(info));
    // Only now: an unref'd socket with a reply still owed lets Node exit in the middle of an await.
    unrefSocket(redis);
    redis.on('connect', () => unrefSocket(redis));
  } catch (error) {
    onError(error instanceof Error ? error : new Error(String(error)));
    return NO_PUBLISHER;
  }
  const send = publishEvents(redis, prefix, info.runId, { ...(options.maxLen === undefined ? {} : { maxLen: options.maxLen }), onError });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // Ref'd again so the last events (run_stopped) are flushed before Node may exit.
    (redis.stream as { ref?: () => void } | undefined)?.ref?.();
    closed ??= redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    );
    return closed;
  };
  return {
    publish: (event) => {
      if (closed !== undefined) return;
      send(event);
      if (event.type === 'run_stopped') void close();
    },
    close,
  };
}

function unrefSocket(redis: Redis): void {
  (redis.stream as { unref?: () => void } | undefined)?.unref?.();
}

/** What Redis holds of a run: its run.json (if it was stored) and how many events. */
export async function describePublishedRun(connection: RedisOptions, prefix: string, runId: string): Promise<{ info: RunInfo | undefined; events: number }> {
  const redis = await connectRedis(connection, 'producer');
  try {
    const [text, events] = await Promise.all([redis.get(runInfoKey(prefix, runId)), redis.xlen(eventStreamKey(prefix, runId))]);
    return { info: text === null ? undefined : (JSON.parse(text) as RunInfo), events };
  } finally {
    redis.disconnect();
  }
}

type StreamEntry = [id: string, fields: string[]];

function toEvents(entries: StreamEntry[]): RunEvent[] {
  const events: RunEvent[] = [];
  for (const [, fields] of entries) {
    const at = fields.indexOf('event');
    const text = at >= 0 ? fields[at + 1] : undefined;
    if (text === undefined) continue;
    try {
      const parsed = eventSchema.safeParse(JSON.parse(text));
      if (parsed.success) events.push(parsed.data);
    } catch {
      // Not ours, or from another version: skipped like a foreign entry.
    }
  }
  return events;
}

/**
 * The run's events in batches: what the stream holds (XRANGE, page by page), then, when
 * following, each new entry as it arrives (XREAD BLOCK) until `signal` aborts. A Redis restart
 * is waited out.
 */
export async function* readEventBatches(
  connection: RedisOptions,
  prefix: string,
  runId: string,
  signal: AbortSignal,
  options: { follow?: boolean } = {},
): AsyncGenerator<RunEvent[]> {
  const key = eventStreamKey(prefix, runId);
  const redis = new Redis({ ...workerRedisOptions(connection), lazyConnect: true });
  redis.on('error', () => undefined); // ioredis retries; aborting ends the wait
  const stop = (): void => redis.disconnect();
  signal.addEventListener('abort', stop, { once: true });
  try {
    // The history as one batch, so a reader judging "has the run stopped?" sees all of it.
    let last = '-';
    const history: RunEvent[] = [];
    for (;;) {
      if (signal.aborted) return;
      const start = last === '-' ? '-' : `(${last}`;
      const page = (await redis.xrange(key, start, '+', 'COUNT', PAGE)) as StreamEntry[];
      if (page.length > 0) last = page.at(-1)![0];
      history.push(...toEvents(page));
      if (page.length < PAGE) break;
    }
    if (history.length > 0) yield history;
    if (options.follow === false) return;
    for (;;) {
      if (signal.aborted) return;
      const reply = await redis.xread('COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', key, last === '-' ? '0-0' : last);
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      last = entries.at(-1)![0];
      yield toEvents(entries);
    }
  } catch (error) {
    // Disconnecting is how an abort interrupts a blocked XREAD.
    if (!signal.aborted) throw error;
  } finally {
    signal.removeEventListener('abort', stop);
    redis.disconnect();
  }
}

/** The run's events one by one: the history first, then live ones, until `signal` aborts. */
export async function* readEventStream(
  connection: RedisOptions,
  prefix: string,
  runId: string,
  signal: AbortSignal,
  options: { follow?: boolean } = {},
): AsyncGenerator<RunEvent> {
  for await (const batch of readEventBatches(connection, prefix, runId, signal, options)) yield* batch;
}
