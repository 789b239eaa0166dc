import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { runCli, spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { createFilePatch, makeTarget, writePatches } from '../helpers/target.js';

function processes(pattern: RegExp): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => pattern.test(line));
}

describe('Ctrl-C in the middle of a bench', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let result: CliResult;
  let runFolder: string;
  const marker = `ratchet-sigint-${process.pid}`;

  beforeAll(async () => {
    target = await makeTarget({
      // The bench announces itself, then sleeps with a marker we can find in `ps`.
      'bench.sh': `#!/bin/sh\nif [ -e src/slow ]; then echo started; sh -c 'sleep 77; : ${marker}' & sh -c 'sleep 78; : ${marker}'; fi\necho "METRIC score=$(cat value.txt)"\n`,
      'ratchet.yaml': `objective: lower\neditable: ["value.txt", "src/**"]\nprotected: ["bench.sh"]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\n`,
    });
    work = await tempDir();
    await writePatches(join(work.path, 'patches'), { '01-slow.patch': createFilePatch('src/slow', 'x', 'a slow change') });
    const experiments = join(work.path, 'experiments');
    runFolder = join(experiments, 'sigint');
    // No --redis: the run starts (and must stop) its own redis-server.
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'sigint'], {
      env: { REDIS_URL: '' },
    });
    await waitFor(async () => (await readFile(join(runFolder, 'e0001', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the bench to start');
    cli.child.kill('SIGINT');
    result = await cli.done;
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('exits with 130 after stopping cleanly', () => {
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain('stopping');
  });

  it('kills the bench and everything it started', async () => {
    await waitFor(() => processes(new RegExp(marker)).length === 0, 5_000, 'no bench processes').catch(() => undefined);
    expect(processes(new RegExp(marker))).toEqual([]);
  });

  it('stops the private redis-server it started', () => {
    expect(processes(new RegExp(`redis-server.*${runFolder}`))).toEqual([]);
  });

  it('removes the worktrees and keeps the refs', () => {
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
    expect(git(target.path, 'for-each-ref', '--format=%(refname)', 'refs/heads/ratchet/sigint/')).toContain('refs/heads/ratchet/sigint/e0001');
  });

  it('leaves a run folder whose events all parse and end with the stop', async () => {
    const text = await readFile(join(runFolder, 'events.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const { events, problems } = parseEvents(text);
    expect(problems).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'run_stopped', reason: 'signal' });
    expect(events.find((e) => e.type === 'experiment_cancelled')).toMatchObject({ exp: 'e0001' });
    JSON.parse(await readFile(join(runFolder, 'run.json'), 'utf8'));
  });

  it('can be read by ratchet show', async () => {
    const show = await runCli(['show', 'sigint', '--experiments', join(work.path, 'experiments')]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('stopped (signal)');
    expect(show.stdout).toMatch(/e0000\s+keep\s+10/);
    const json = await runCli(['show', 'sigint', '--experiments', join(work.path, 'experiments'), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ summary: { runId: 'sigint', baseline: 10 } });
  });
});

describe('a run whose output reader goes away, as in `ratchet run | head -1`', () => {
  it('stops cleanly, as at Ctrl-C, and exits quietly with 0', async () => {
    const target = await makeTarget();
    const work = await tempDir();
    try {
      const patches = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`${String(i).padStart(2, '0')}.patch`, createFilePatch(`src/n${i}.txt`, 'x', `note ${i}`)]));
      await writePatches(join(work.path, 'patches'), patches);
      const experiments = join(work.path, 'experiments');
      const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'piped'], { env: { REDIS_URL: '' } });
      await waitFor(() => cli.output().includes('\n'), 60_000, 'the first line');
      cli.child.stdout!.destroy();
      const result = await cli.done;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('stdout was closed: stopping cleanly');
      expect(result.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
      const { events } = parseEvents(await readFile(join(experiments, 'piped', 'events.jsonl'), 'utf8'));
      expect(events.at(-1)).toMatchObject({ type: 'run_stopped', reason: 'signal' });
      expect(events.filter((e) => e.type === 'experiment_finished').length).toBeLessThan(30);
    } finally {
      await target.cleanup();
      await work.cleanup();
    }
  }, 120_000);
});
