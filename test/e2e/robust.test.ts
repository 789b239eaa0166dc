/** Nothing lost, nothing hung: a private redis-server killed mid-bench, `ratchet stop`, one run id from two folders. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { tempDir } from '../helpers/gitdir.js';
import { spawnCli, waitFor } from '../helpers/cli.js';
import { createFilePatch, makeTarget, writePatches } from '../helpers/target.js';

const SLOW_SPEC = `objective: lower\neditable: ["value.txt", "src/**"]\nprotected: ["bench.sh"]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\n`;

function slowBench(seconds: number): string {
  return `#!/bin/sh\nif [ -e src/slow ]; then echo started; sleep ${seconds}; fi\necho "METRIC score=$(cat value.txt)"\n`;
}

async function events(folder: string) {
  return parseEvents(await readFile(join(folder, 'events.jsonl'), 'utf8')).events;
}

describe('robustness of a run', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  async function setup(benchSeconds: number) {
    const target = await makeTarget({ 'bench.sh': slowBench(benchSeconds), 'ratchet.yaml': SLOW_SPEC });
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    await writePatches(join(work.path, 'patches'), { '01-slow.patch': createFilePatch('src/slow', 'x', 'a slow change') });
    return { target, work, experiments: join(work.path, 'experiments') };
  }

  it('restarts a SIGKILLed private redis-server from its append-only file and goes on', async () => {
    const { target, work, experiments } = await setup(6);
    const folder = join(experiments, 'redis-kill');
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'redis-kill'], { env: { REDIS_URL: '' } });
    await waitFor(async () => (await readFile(join(folder, 'e0001', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    const pid = Number((await readFile(join(folder, 'redis', 'redis.pid'), 'utf8')).trim());
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => cli.output().includes('restarted it from its append-only file'), 10_000, 'the restart');
    const recoveredS = (Date.now() - killedAt) / 1000;
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(recoveredS).toBeLessThan(10);
    const all = await events(folder);
    expect(all.find((e) => e.type === 'experiment_finished' && e.exp === 'e0001')).toBeDefined();
    expect(all.at(-1)).toMatchObject({ type: 'run_stopped', reason: 'exhausted' });
  }, 90_000);

  it('stops with run_stopped and exit code 75 within 10 s when the killed redis-server cannot be restarted, never hangs', async () => {
    const { target, work, experiments } = await setup(30);
    const folder = join(experiments, 'redis-gone');
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'redis-gone'], { env: { REDIS_URL: '' } });
    await waitFor(async () => (await readFile(join(folder, 'e0001', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    // A manifest redis-server cannot read: the running server never reads it again, a restart must.
    await writeFile(join(folder, 'redis', 'appendonlydir', 'appendonly.aof.manifest'), 'not a manifest\n');
    const pid = Number((await readFile(join(folder, 'redis', 'redis.pid'), 'utf8')).trim());
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const result = await cli.done;
    const stoppedS = (Date.now() - killedAt) / 1000;
    expect(result.code, result.stderr).toBe(75);
    expect(stoppedS, result.stderr).toBeLessThan(10);
    expect(result.stderr).toMatch(/stopped unexpectedly .*could not be restarted/);
    expect(result.stderr).toContain('ratchet resume redis-gone');
    expect((await events(folder)).at(-1)).toMatchObject({ type: 'run_stopped', reason: 'error', detail: expect.stringMatching(/could not be restarted.*the run folder and its refs are intact/) as unknown });
  }, 90_000);

  it('stops a run asked by ratchet stop from another folder, recording reason user', async () => {
    const { target, work, experiments } = await setup(60);
    const folder = join(experiments, 'asked');
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'asked'], { env: { REDIS_URL: '' } });
    await waitFor(async () => (await readFile(join(folder, 'e0001', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    // From another folder: found through the index of runs.
    const stop = spawnCli(['stop', 'asked'], { cwd: work.path });
    const stopped = await stop.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('run asked stopped');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    const all = await events(folder);
    expect(all.at(-1)).toMatchObject({ type: 'run_stopped', reason: 'user' });
    expect((all.at(-1) as { detail: string }).detail).toContain('stopped by user');
    expect(all.find((e) => e.type === 'experiment_cancelled')).toMatchObject({ exp: 'e0001' });
    const again = await spawnCli(['stop', 'asked'], { cwd: work.path }).done;
    expect(again.stdout).toContain('is not running');
  }, 120_000);

  it('refuses the same run id from a second folder and leaves the first unharmed', async () => {
    const { target, work } = await setup(8);
    const first = join(work.path, 'one');
    const second = join(work.path, 'two');
    const args = (root: string) => ['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', root, '--run-id', 'twice'];
    const cli = spawnCli(args(first), { env: { REDIS_URL: '' } });
    await waitFor(async () => (await readFile(join(first, 'twice', 'e0001', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    const refused = await spawnCli(args(second), { env: { REDIS_URL: '' } }).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('run twice is in use by another ratchet process');
    expect(refused.stderr).toContain(join(first, 'twice'));
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    const all = await events(join(first, 'twice'));
    expect(all.find((e) => e.type === 'experiment_finished' && e.exp === 'e0001')).toBeDefined();
  }, 120_000);
});
