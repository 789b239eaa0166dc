import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/gitdir.js';
import { runCli, spawnCli, waitFor } from '../helpers/cli.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

describe('ratchet worker in its own process', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('serves a run started with --no-worker on the same Redis', async () => {
    const target = await makeTarget();
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    await writePatches(join(work.path, 'patches'), { '01.patch': replaceLinePatch('value.txt', '10', '4', 'lower to 4') });
    const redis = `redis+unix://${testRedisSocket()}`;
    // The worker serves every registered run: it finds this one when the run registers.
    const worker = spawnCli(['worker', '--redis', redis]);
    try {
      const run = await runCli(['run', target.path, '--no-worker', '--redis', redis, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', join(work.path, 'experiments'), '--run-id', 'remote-worker']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/best\s+4 \(e0001/);
    } finally {
      worker.child.kill('SIGTERM');
    }
    const stopped = await worker.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('serving every registered run');
    // Said at start: bubblewrap works on these machines (CI installs it).
    expect(stopped.stderr).toMatch(/serving .*, commands in bubblewrap; Ctrl-C to stop/);
  }, 120_000);

  it('says at start when this machine has no sandbox, and what that means for a run', async () => {
    const work = await tempDir();
    cleanups.push(work.cleanup);
    // A PATH with git and no bubblewrap.
    await mkdir(join(work.path, 'bin'));
    await symlink(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), join(work.path, 'bin', 'git'));
    const worker = spawnCli(['worker', '--redis', `redis+unix://${testRedisSocket()}`, '--workdir', join(work.path, 'w')], { env: { PATH: join(work.path, 'bin') } });
    try {
      await waitFor(() => worker.output().includes('Ctrl-C to stop'), 30_000, 'the worker to serve');
    } finally {
      worker.child.kill('SIGTERM');
    }
    const stopped = await worker.done;
    expect(stopped.stderr).toContain('no sandbox here (bwrap is not installed): a run with sandbox: auto runs its commands unsandboxed on this worker');
  }, 60_000);

  it('refuses to start on a shared Redis without RATCHET_KEY, and so does a run, naming the fix', async () => {
    const work = await tempDir();
    cleanups.push(work.cleanup);
    const redis = `redis+unix://${testRedisSocket()}`;
    const env = { RATCHET_KEY: '' };

    const worker = await runCli(['worker', '--redis', redis], { env });
    const run = await runCli(['run', work.path, '--redis', redis, '--experiments', join(work.path, 'experiments'), '--run-id', 'no-key'], { env });

    for (const result of [worker, run]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('needs RATCHET_KEY on a shared Redis');
      expect(result.stderr).toContain('export RATCHET_KEY=$(openssl rand -hex 32)');
    }
    expect(existsSync(join(work.path, 'experiments', 'no-key'))).toBe(false);
  }, 60_000);

  it('says how to point it at Redis when none is given', async () => {
    const result = await runCli(['worker'], { env: { REDIS_URL: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --redis URL or set REDIS_URL');
  }, 30_000);
});
