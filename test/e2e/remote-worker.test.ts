/**
 * A worker that does not share the orchestrator's repository: the run pushes its commits to a
 * bare remote, the worker (its own process, its own folder, another cwd) fetches them into its
 * clone, evaluates there and sends the logs back through Redis.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

describe('a worker on another machine, through a git remote', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('runs a small run to the end with a keep and a discard, and the run folder has every stage log', async () => {
    const target = await makeTarget();
    const work = await tempDir('ratchet-remote-run-');
    const far = await tempDir('ratchet-remote-worker-');
    cleanups.push(target.cleanup, work.cleanup, far.cleanup);
    const remote = join(work.path, 'remote.git');
    git(work.path, 'init', '--quiet', '--bare', remote);
    await writePatches(join(work.path, 'patches'), {
      '01.patch': replaceLinePatch('value.txt', '10', '4', 'lower to 4'),
      '02.patch': replaceLinePatch('value.txt', '4', '7', 'raise to 7'),
    });
    const redis = `redis+unix://${testRedisSocket()}`;
    const runId = 'remote-run';
    const workdir = join(far.path, 'workdir');
    const worker = spawnCli(['worker', '--redis', redis, '--run', runId, '--workdir', workdir, '--name', 'far-away'], { cwd: far.path });
    let run;
    try {
      run = await runCli(
        ['run', target.path, '--no-worker', '--redis', redis, '--remote', remote, '--setup', 'echo setting up', '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', join(work.path, 'experiments'), '--run-id', runId],
        { cwd: work.path },
      );
    } finally {
      worker.child.kill('SIGTERM');
    }
    const stopped = await worker.done;
    expect(run.code, run.stderr).toBe(0);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(run.stdout).toMatch(/best\s+4 \(e0001/);

    const folder = join(work.path, 'experiments', runId);
    const { events } = parseEvents(await readFile(join(folder, 'events.jsonl'), 'utf8'));
    const verdicts = events.flatMap((e) => (e.type === 'experiment_finished' ? [[e.exp, e.verdict]] : []));
    expect(verdicts).toEqual([
      ['e0000', 'keep'],
      ['e0001', 'keep'],
      ['e0002', 'discard'],
    ]);
    for (const exp of ['e0000', 'e0001', 'e0002']) {
      expect(await readFile(join(folder, exp, 'setup.log'), 'utf8')).toContain('setting up');
      expect(await readFile(join(folder, exp, 'checks.log'), 'utf8')).toContain('check "test" (1/1)');
      expect(await readFile(join(folder, exp, 'bench.log'), 'utf8')).toMatch(/METRIC score=(10|4|7)/);
    }
    // Every stage names the worker that ran it (its --name), not the orchestrator.
    const workers = new Set(events.flatMap((e) => (e.type === 'stage_finished' ? [e.worker] : [])));
    expect([...workers]).toEqual(['far-away']);

    // The commits went through the remote, and the worker evaluated them in its own clone.
    const pushed = git(remote, 'for-each-ref', '--format=%(refname)', `refs/ratchet/${runId}/`).split('\n');
    expect(pushed).toEqual(expect.arrayContaining([`refs/ratchet/${runId}/base`, `refs/ratchet/${runId}/e0001`, `refs/ratchet/${runId}/e0002`]));
    const clones = await readdir(join(workdir, 'repos'));
    expect(clones).toHaveLength(1);
    const discarded = events.flatMap((e) => (e.type === 'committed' && e.exp === 'e0002' ? [e.commit] : []));
    expect(discarded).toHaveLength(1);
    expect(git(join(workdir, 'repos', clones[0]!), 'cat-file', '-t', discarded[0]!)).toBe('commit');
    expect(existsSync(join(target.path, '.git', 'ratchet', 'eval'))).toBe(false);
  }, 180_000);

  it("serves a run with a remote in-process too: its worker fetches from the remote into the run's worker folder", async () => {
    const target = await makeTarget();
    const work = await tempDir('ratchet-remote-inproc-');
    cleanups.push(target.cleanup, work.cleanup);
    const remote = join(work.path, 'remote.git');
    git(work.path, 'init', '--quiet', '--bare', remote);
    await writePatches(join(work.path, 'patches'), { '01.patch': replaceLinePatch('value.txt', '10', '4', 'lower to 4') });
    const run = await runCli(['run', target.path, '--remote', remote, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', join(work.path, 'experiments'), '--run-id', 'remote-inproc'], {
      cwd: work.path,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/best\s+4 \(e0001/);
    const folder = join(work.path, 'experiments', 'remote-inproc');
    expect(await readdir(join(folder, 'worker', 'repos'))).toHaveLength(1);
    expect(await readFile(join(folder, 'e0001', 'bench.log'), 'utf8')).toContain('METRIC score=4');
    expect(git(remote, 'rev-parse', 'refs/ratchet/remote-inproc/base')).toBe(git(target.path, 'rev-parse', 'HEAD'));
    expect(existsSync(join(target.path, '.git', 'ratchet', 'eval'))).toBe(false);
  }, 120_000);
});
