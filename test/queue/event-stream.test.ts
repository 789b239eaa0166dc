/**
 * A run's events on a Redis stream, for watching from another machine: against the test Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWatch, watchRun } from '../../src/app/watch.js';
import { UserError } from '../../src/domain/errors.js';
import { describePublishedRun, eventStreamKey, openEventPublisher, publishEvents, readEventStream } from '../../src/queue/event-stream.js';
import type { NewEvent, RunEvent } from '../../src/domain/events.js';
import { RUN_JSON_VERSION, type RunInfo } from '../../src/store/run-dir.js';
import { specSchema } from '../../src/domain/spec.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/gitdir.js';
import { testRedisOptions, testRedisSocket, uniquePrefix } from '../helpers/redis.js';

const RUN = '2026-11-21-remote-c3d4';

function ev(n: number, event: NewEvent): RunEvent {
  return { v: 1, t: new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString(), run: RUN, ...event };
}

const started = (n: number): RunEvent => ev(n, { type: 'experiment_started', exp: `e${String(n).padStart(4, '0')}`, parent: 'abc', parentExp: 'e0000' });
const stopped = ev(59, { type: 'run_stopped', reason: 'exhausted', detail: 'no more patches' });

const info: RunInfo = {
  schema: RUN_JSON_VERSION,
  runId: RUN,
  target: '/elsewhere/target',
  base: 'abc',
  baseRef: 'HEAD',
  createdAt: new Date().toISOString(),
  spec: specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'score', goal: 'minimize' } } }),
  objective: 'x',
  specSource: 'ratchet.yaml',
  versions: { ratchet: '0.1.0', node: 'v20' },
};

describe('the event stream', () => {
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(testRedisOptions());
    await redis.ping();
  });
  afterAll(() => redis.disconnect());

  it('reads the history, then each event published after, until aborted', async () => {
    const prefix = uniquePrefix('stream');
    const publish = publishEvents(redis, prefix, RUN);
    for (const n of [1, 2, 3]) publish(started(n));
    const abort = new AbortController();
    const seen: RunEvent[] = [];
    const reading = (async () => {
      for await (const event of readEventStream(testRedisOptions(), prefix, RUN, abort.signal)) seen.push(event);
    })();
    await waitFor(() => seen.length === 3, 10_000, 'the history');
    publish(started(4));
    publish(started(5));
    await waitFor(() => seen.length === 5, 10_000, 'the live events');
    expect(seen).toEqual([1, 2, 3, 4, 5].map(started));
    abort.abort();
    await reading;
  });

  it('caps the stream near its maximum length', async () => {
    const prefix = uniquePrefix('cap');
    const publish = publishEvents(redis, prefix, RUN, { maxLen: 10 });
    for (let n = 0; n < 400; n++) publish(started(n % 60));
    await redis.ping(); // answered after every XADD sent before it on this connection
    // Trimming with ~ drops whole nodes of 100 entries: approximately, never below the cap.
    const length = await redis.xlen(eventStreamKey(prefix, RUN));
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(200);
  });

  it('stores the run info and closes the publisher after run_stopped', async () => {
    const prefix = uniquePrefix('pub');
    const publisher = await openEventPublisher({ path: testRedisSocket() }, info, { prefix });
    publisher.publish(started(1));
    publisher.publish(stopped);
    publisher.publish(started(2)); // after the session's end: dropped
    await publisher.close();
    expect(await describePublishedRun({ path: testRedisSocket() }, prefix, RUN)).toEqual({ info, events: 2 });
  });

  it('never throws when Redis cannot be reached: it reports and publishes nothing', async () => {
    const errors: Error[] = [];
    const publisher = await openEventPublisher({ path: '/nonexistent/redis.sock' }, info, { onError: (e) => errors.push(e) });
    publisher.publish(started(1));
    await publisher.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('cannot reach Redis');
  });

  it('lets ratchet watch follow a run whose folder is on another machine', async () => {
    const prefix = uniquePrefix('watch');
    const publisher = await openEventPublisher({ path: testRedisSocket() }, info, { prefix });
    const events = [ev(0, { type: 'run_started', target: '/elsewhere/target', base: 'abc', metric: 'score', goal: 'minimize', agent: 'replay', resumed: false }), started(1), stopped];
    for (const event of events) publisher.publish(event);
    await publisher.close();
    const empty = await tempDir('ratchet-remote-');
    try {
      const signal = new AbortController().signal;
      const source = await openWatch({ experimentsRoot: empty.path, runId: RUN, redis: `redis+unix://${testRedisSocket()}`, prefix, follow: true, signal });
      expect(source).toMatchObject({ from: 'redis', info });
      const seen: string[] = [];
      const result = await watchRun(source, { onEvent: (e) => seen.push(e.type) }, { signal });
      expect(seen).toEqual(['run_started', 'experiment_started', 'run_stopped']);
      expect(result).toMatchObject({ ended: 'run_stopped', events: 3 });
      const missing = openWatch({ experimentsRoot: empty.path, runId: 'no-such-run', redis: `redis+unix://${testRedisSocket()}`, prefix, follow: false, signal });
      await expect(missing).rejects.toThrow(UserError);
      await expect(missing).rejects.toThrow(/has no events of run no-such-run/);
    } finally {
      await empty.cleanup();
    }
  });
});
