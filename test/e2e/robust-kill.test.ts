/** SIGKILL of a worker mid-bench, and a double Ctrl-C: the job is run again, and no process is left. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { tempDir } from '../helpers/gitdir.js';
import { spawnCli, waitFor } from '../helpers/cli.js';
import { testRedisSocket } from '../helpers/redis.js';
import { createFilePatch, makeTarget, writePatches } from '../helpers/target.js';

function processes(pattern: RegExp): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => pattern.test(line) && !line.includes('ps -eo'));
}

async function benchStartedSince(log: string, since: number): Promise<boolean> {
  const info = await stat(log).catch(() => undefined);
  if (info === undefined || info.mtimeMs < since) return false;
  return (await readFile(log, 'utf8').catch(() => '')).includes('started');
}

describe('processes killed under a run', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  async function setup(marker: string, seconds: number) {
    const target = await makeTarget({
      'bench.sh': `#!/bin/sh\nif [ -e src/slow ]; then echo started; sh -c 'sleep ${seconds}; : ${marker}'; fi\necho "METRIC score=$(cat value.txt)"\n`,
      'ratchet.yaml': `objective: lower\neditable: ["value.txt", "src/**"]\nprotected: ["bench.sh"]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\n`,
    });
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    await writePatches(join(work.path, 'patches'), { '01-slow.patch': createFilePatch('src/slow', 'x', 'a slow change') });
    return { target, work, experiments: join(work.path, 'experiments') };
  }

  it('runs the bench of a SIGKILLed worker again on another worker within 45 s, and leaves none of its processes', async () => {
    const marker = `ratchet-worker-kill-${process.pid}`;
    const { target, work, experiments } = await setup(marker, 4);
    const redis = `redis+unix://${testRedisSocket()}`;
    const log = join(experiments, 'wkill', 'e0001', 'bench.log');
    const run = spawnCli(['run', target.path, '--no-worker', '--redis', redis, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'wkill']);
    const first = spawnCli(['worker', '--redis', redis, '--run', 'wkill']);
    let second: ReturnType<typeof spawnCli> | undefined;
    try {
      await waitFor(() => benchStartedSince(log, 0), 60_000, 'the bench to start');
      await waitFor(() => processes(new RegExp(marker)).length > 0, 10_000, 'the bench process');
      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await waitFor(() => processes(new RegExp(marker)).length === 0, 10_000, 'the dead worker\'s bench to go').catch(() => undefined);
      expect(processes(new RegExp(marker))).toEqual([]);
      second = spawnCli(['worker', '--redis', redis, '--run', 'wkill']);
      await waitFor(() => benchStartedSince(log, killedAt), 45_000, 'the bench to run again');
      const rerunS = (Date.now() - killedAt) / 1000;
      expect(rerunS).toBeLessThan(45);
      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      const { events } = parseEvents(await readFile(join(experiments, 'wkill', 'events.jsonl'), 'utf8'));
      expect(events.find((e) => e.type === 'experiment_finished' && e.exp === 'e0001')).toBeDefined();
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      run.child.kill('SIGTERM');
      await second?.done;
    }
  }, 120_000);

  // The second Ctrl-C can come after the run has stopped and while the process is closing: it
  // must exit through process.exit (whose hooks stop the private redis-server), not die of it.
  it('leaves no process after a double Ctrl-C, and resume goes on at once', async () => {
    const marker = `ratchet-double-sigint-${process.pid}`;
    const { target, work, experiments } = await setup(marker, 60);
    const folder = join(experiments, 'twice-c');
    const log = join(folder, 'e0001', 'bench.log');
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'twice-c'], { env: { REDIS_URL: '' } });
    await waitFor(() => benchStartedSince(log, 0), 60_000, 'the bench to start');
    cli.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.code).toBe(130);
    // Exiting mid-cleanup must not leave the repository lock behind: the next session would wait 30 s for it.
    for (const lock of ['repo.lock', 'refs.lock']) expect(existsSync(join(target.path, '.git', 'ratchet', lock))).toBe(false);
    await waitFor(() => processes(new RegExp(`${marker}|redis-server.*${folder}`)).length === 0, 5_000, 'no process left').catch(() => undefined);
    expect(processes(new RegExp(`${marker}|redis-server.*${folder}`))).toEqual([]);

    const resumedAt = Date.now();
    const resume = spawnCli(['resume', 'twice-c', '--experiments', experiments], { env: { REDIS_URL: '' } });
    try {
      // The cancelled experiment is proposed again under the next id.
      await waitFor(async () => (await benchStartedSince(log, resumedAt)) || benchStartedSince(join(folder, 'e0002', 'bench.log'), resumedAt), 20_000, 'the resumed bench to start');
    } finally {
      resume.child.kill('SIGINT');
    }
    const resumed = await resume.done;
    expect(resumed.code, resumed.stderr).toBe(130);
    expect(processes(new RegExp(`${marker}|redis-server.*${folder}`))).toEqual([]);
  }, 120_000);
});
