/** A shared Redis (the user's, not ratchet's) restarted in the middle of a bench: the run goes on. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { tempDir } from '../helpers/gitdir.js';
import { spawnCli, waitFor } from '../helpers/cli.js';
import { createFilePatch, makeTarget, writePatches } from '../helpers/target.js';

function startRedis(dir: string, socket: string): ChildProcess {
  return spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
}

describe('a shared Redis restarted mid-run', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('goes on once the Redis is back', async () => {
    const target = await makeTarget({
      'bench.sh': `#!/bin/sh\nif [ -e src/slow ]; then echo started; sleep 6; fi\necho "METRIC score=$(cat value.txt)"\n`,
      'ratchet.yaml': `objective: lower\neditable: ["value.txt", "src/**"]\nprotected: ["bench.sh"]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\n`,
    });
    const work = await tempDir();
    const data = await tempDir();
    cleanups.push(target.cleanup, work.cleanup, data.cleanup);
    await writePatches(join(work.path, 'patches'), { '01-slow.patch': createFilePatch('src/slow', 'x', 'a slow change') });
    const socket = join(data.path, 'redis.sock');
    let redis = startRedis(data.path, socket);
    cleanups.unshift(() => Promise.resolve(void redis.kill('SIGKILL')));
    const experiments = join(work.path, 'experiments');
    await waitFor(async () => (await readFile(join(data.path, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8').catch(() => '')) !== '', 10_000, 'redis to start');
    await new Promise((r) => setTimeout(r, 300));
    const cli = spawnCli(['run', target.path, '--redis', `redis+unix://${socket}`, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'shared-restart']);
    const log = join(experiments, 'shared-restart', 'e0001', 'bench.log');
    await waitFor(async () => (await readFile(log, 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    redis = startRedis(data.path, socket);
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    const { events } = parseEvents(await readFile(join(experiments, 'shared-restart', 'events.jsonl'), 'utf8'));
    expect(events.find((e) => e.type === 'experiment_finished' && e.exp === 'e0001')).toBeDefined();
    expect(events.at(-1)).toMatchObject({ type: 'run_stopped', reason: 'exhausted' });
  }, 120_000);
});
