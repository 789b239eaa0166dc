/**
 * A run id works from any folder: runs are recorded in the user's state folder when they start
 * (here a temporary one, RATCHET_STATE_DIR), and every command that takes a run id finds them.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor } from '../helpers/cli.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

describe('a run id from any folder', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  /** Where the run was started (its experiments folder is inside), and somewhere else entirely. */
  let started: string;
  let elsewhere: string;
  let env: NodeJS.ProcessEnv;
  let runOutput: string;
  const runId = 'anywhere';
  const redis = `redis+unix://${testRedisSocket()}`;
  const cli = (args: string[]) => runCli(args, { cwd: elsewhere, env });

  beforeAll(async () => {
    target = await makeTarget();
    work = await tempDir();
    started = join(work.path, 'started-here');
    elsewhere = join(work.path, 'somewhere-else');
    await mkdir(started);
    await mkdir(elsewhere);
    env = { RATCHET_STATE_DIR: join(work.path, 'state'), RATCHET_EXPERIMENTS: '' };
    await writePatches(join(work.path, 'patches'), { '01.patch': replaceLinePatch('value.txt', '10', '8', 'lower the score to 8') });
    // No --experiments: the run folder goes to ./experiments of the folder it started in.
    const run = await runCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--run-id', runId, '--redis', redis], { cwd: started, env });
    expect(run.code, run.stderr).toBe(0);
    runOutput = run.stdout;
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('records the run folder in the state folder when the run starts', async () => {
    const index = JSON.parse(await readFile(join(work.path, 'state', 'runs.json'), 'utf8')) as unknown;
    expect(index).toEqual({ v: 1, runs: { [runId]: { dir: join(started, 'experiments', runId), target: target.path, createdAt: expect.any(String) } } });
  });

  it('lists it with ls, and shows it, from another folder', async () => {
    const ls = await cli(['ls']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${runId}\\s+stopped \\(exhausted\\)\\s+1\\s+10\\s+8`, 'm'));
    const show = await cli(['show', runId]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/e0001\s+keep\s+8/);
    const latest = await cli(['show', '--json']);
    expect(JSON.parse(latest.stdout)).toMatchObject({ summary: { runId } });
  });

  it('watches, diffs, reports and picks it from another folder', async () => {
    const watch = await cli(['watch', runId, '--no-follow']);
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toContain('e0001 KEEP');
    const diff = await cli(['diff', runId]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toContain('-10\n+8');
    const report = await cli(['report', runId]);
    expect(report.code, report.stderr).toBe(0);
    const pick = await cli(['pick', runId]);
    expect(pick.code, pick.stderr).toBe(0);
    expect(git(target.path, 'show', `ratchet/${runId}/picked:value.txt`)).toBe('8');
  }, 60_000);

  it('resumes it from another folder', async () => {
    const resume = await cli(['resume', runId, '--redis', redis, '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    expect(JSON.parse(resume.stdout)).toMatchObject({ runId, runDir: join(started, 'experiments', runId), stopped: { reason: 'exhausted' } });
  }, 60_000);

  it('serves it on the dashboard started from another folder', async () => {
    const serve = spawnCli(['serve', '--port', '0'], { cwd: elsewhere, env });
    try {
      await waitFor(() => /http:\/\/\S+/.test(serve.output()), 30_000, 'the dashboard URL');
      const url = /http:\/\/\S+/.exec(serve.output())![0];
      const body = (await (await fetch(new URL('api/runs', url))).json()) as { runs: { runId: string }[] };
      expect(body.runs.map((r) => r.runId)).toEqual([runId]);
      const detail = await fetch(new URL(`api/runs/${runId}`, url));
      expect(detail.status).toBe(200);
    } finally {
      serve.child.kill('SIGINT');
      await serve.done;
    }
  }, 60_000);

  it('prints commands at the end of the run that work from any folder', () => {
    const hint = /harvest: +(git -C \S+ log --oneline ratchet\/anywhere\/best), or as a branch: ratchet pick anywhere/.exec(runOutput);
    expect(hint?.[1]).toBe(`git -C ${target.path} log --oneline ratchet/${runId}/best`);
    const log = execFileSync('sh', ['-c', hint![1]!], { cwd: elsewhere, encoding: 'utf8' });
    expect(log).toContain('lower the score to 8');
    expect(runOutput).toContain(`ratchet show ${runId}`);
  });

  it('lets --experiments win, and ignores a recorded run whose folder is gone', async () => {
    const empty = join(work.path, 'empty');
    expect((await cli(['ls', '--experiments', empty])).stdout).toBe(`no runs in ${empty}\n`);
    const other = await cli(['show', runId, '--experiments', empty]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`no run ${runId} in ${empty}`);
    // A second run, recorded, whose folder is then deleted.
    const gone = join(work.path, 'gone');
    const run = await runCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--run-id', 'gone', '--experiments', gone, '--redis', redis], { cwd: started, env });
    expect(run.code, run.stderr).toBe(0);
    expect((await cli(['ls'])).stdout).toMatch(/^gone\s/m);
    await rm(gone, { recursive: true, force: true });
    const ls = await cli(['ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { runId: string }[]).map((r) => r.runId)).toEqual([runId]);
    const missing = await cli(['show', 'gone']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('hint: list runs with: ratchet ls');
  }, 120_000);
});
