/**
 * `ratchet watch`: follow a run's events from its folder on this machine, or from Redis when
 * the run runs elsewhere, and feed them to a view. Following stops when the run stops (its
 * `run_stopped` is the last event once caught up), unless `keep` asks to wait for a resume.
 */
import { join } from 'node:path';
import { UserError } from '../domain/errors.js';
import { describeRedis, parseRedisUrl, redisUrlFrom } from '../queue/connection.js';
import { describePublishedRun, readEventBatches } from '../queue/event-stream.js';
import { DEFAULT_PREFIX } from '../queue/names.js';
import type { RunEvent } from '../domain/events.js';
import { folderCatalog, type RunCatalog } from '../store/run-catalog.js';
import { readRunInfo, type RunInfo } from '../store/run-dir.js';
import { applyEvent, emptyState } from '../plan/fold.js';
import type { RunState } from '../domain/run-state.js';
import { summarize, type RunSummary } from '../view/summary.js';
import { tailEvents } from '../view/watch/tail.js';
import { isFile } from '../util/fs.js';

export interface WatchOptions {
  /** Where run folders are: one experiments folder, or a catalog of them (`runs` wins). */
  experimentsRoot?: string;
  runs?: RunCatalog;
  /** Default: the latest run. */
  runId?: string;
  /** A Redis URL (or REDIS_URL), used when the run folder is not on this machine. */
  redis?: string;
  prefix?: string;
  /** Keep reading as events arrive; false prints what is there and returns. */
  follow: boolean;
  /** Go on following after the run stops (to see a resume). */
  keep?: boolean;
  signal: AbortSignal;
  pollMs?: number;
  onProblem?: (problem: string) => void;
}

export interface WatchSource {
  runId: string;
  from: 'folder' | 'redis';
  /** The run folder, or the Redis it is read from. */
  where: string;
  info: RunInfo | undefined;
  batches: AsyncIterable<RunEvent[]>;
}

export interface WatchSink {
  onEvent(event: RunEvent, state: RunState): void;
  setInfo?(info: RunInfo): void;
}

export interface WatchResult {
  runId: string;
  from: 'folder' | 'redis';
  events: number;
  /** Why the watch ended: the run stopped, the events ran out (no follow), or it was interrupted. */
  ended: 'run_stopped' | 'end_of_events' | 'interrupted';
  summary: RunSummary;
}

/** Where the run's events come from: the run folder when it is here, else Redis. */
export async function openWatch(options: WatchOptions): Promise<WatchSource> {
  const runs = options.runs ?? folderCatalog(options.experimentsRoot ?? 'experiments');
  const url = redisUrlFrom(options.redis);
  let runId = options.runId;
  if (runId === undefined) {
    runId = (await runs.list())[0]?.runId;
    if (runId === undefined) {
      throw new UserError(`no runs in ${runs.where}`, { hint: url === undefined ? 'start one with: ratchet run <repo>' : 'name the run to follow through Redis: ratchet watch <run> --redis URL' });
    }
  }
  const dir = await runs.find(runId);
  if (dir !== undefined && (await isFile(join(dir, 'events.jsonl')))) {
    const info = await readRunInfo(dir).catch(() => undefined);
    const tail = { signal: options.signal, follow: options.follow, ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }), ...(options.onProblem ? { onProblem: options.onProblem } : {}) };
    return { runId, from: 'folder', where: dir, info, batches: tailEvents(join(dir, 'events.jsonl'), tail) };
  }
  if (url === undefined) {
    throw new UserError(`no run ${runId} in ${runs.where}`, { hint: 'list runs with: ratchet ls; follow a run on another machine with: ratchet watch <run> --redis URL' });
  }
  const connection = parseRedisUrl(url);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const published = await describePublishedRun(connection, prefix, runId);
  if (published.info === undefined && published.events === 0) {
    throw new UserError(`Redis at ${describeRedis(connection)} has no events of run ${runId}`, {
      hint: 'a run publishes its events when it uses that Redis (ratchet run --redis URL); check the run id and --prefix',
    });
  }
  return {
    runId,
    from: 'redis',
    where: describeRedis(connection),
    info: published.info,
    batches: readEventBatches(connection, prefix, runId, options.signal, { follow: options.follow }),
  };
}

/** Feeds the source's events to `sink` until the run stops (unless `keep`), the events end, or abort. */
export async function watchRun(source: WatchSource, sink: WatchSink, options: { keep?: boolean; signal: AbortSignal }): Promise<WatchResult> {
  if (source.info !== undefined) sink.setInfo?.(source.info);
  let state = emptyState(source.runId);
  let count = 0;
  let ended: WatchResult['ended'] = 'end_of_events';
  for await (const batch of source.batches) {
    for (const event of batch) {
      state = applyEvent(state, event);
      count += 1;
      sink.onEvent(event, state);
    }
    // Judged per batch: a resumed run's earlier run_stopped is followed by its run_started.
    if (state.stopped !== undefined && options.keep !== true) {
      ended = 'run_stopped';
      break;
    }
  }
  if (options.signal.aborted && ended !== 'run_stopped') ended = 'interrupted';
  return { runId: source.runId, from: source.from, events: count, ended, summary: summarize(state, source.where) };
}
