import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { runCli, spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

function processes(pattern: string): string[] {
  return execFileSync('ps', ['-eo', 'stat,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(pattern) && !line.startsWith('Z') && !line.includes('ratchet-watchdog'));
}

describe('a run killed outright and resumed', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let resumed: CliResult;
  let runFolder: string;
  const marker = `ratchet-crash-${process.pid}`;

  beforeAll(async () => {
    target = await makeTarget({
      // The slow change sleeps long enough to be killed in the middle of its bench, once: the
      // flag file lives outside the repository, so the retried bench after resume is quick.
      'bench.sh': `#!/bin/sh\nif [ -e src/slow ] && [ ! -e "$CRASH_FLAG" ]; then touch "$CRASH_FLAG"; echo started; sh -c 'sleep 88; : ${marker}'; fi\necho "METRIC score=$(cat value.txt)"\n`,
      // The flag file is outside the worktree, where only an unsandboxed bench can write.
      'ratchet.yaml': `objective: lower\nsandbox: none\neditable: ["value.txt", "src/**"]\nprotected: ["bench.sh"]\nenv: [CRASH_FLAG]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\n`,
    });
    work = await tempDir();
    await writePatches(join(work.path, 'patches'), {
      '01-lower.patch': replaceLinePatch('value.txt', '10', '8', 'lower to 8'),
      '02-slow.patch': createFilePatch('src/slow', 'x', 'a slow change'),
      '03-lower.patch': replaceLinePatch('value.txt', '8', '5', 'lower to 5'),
    });
    const experiments = join(work.path, 'experiments');
    runFolder = join(experiments, 'crash');
    const env = { REDIS_URL: '', CRASH_FLAG: join(work.path, 'crashed-once') };
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'crash'], { env });
    await waitFor(async () => (await readFile(join(runFolder, 'e0002', 'bench.log'), 'utf8').catch(() => '')).includes('started'), 60_000, 'the slow bench');
    cli.child.kill('SIGKILL');
    await cli.done;
    resumed = await runCli(['resume', 'crash', '--experiments', experiments], { env });
  }, 180_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('finishes the run in the second session', () => {
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('stopped (exhausted)');
  });

  it('cancels the experiment cut off by the crash and proposes its change again', async () => {
    const { events } = parseEvents(await readFile(join(runFolder, 'events.jsonl'), 'utf8'));
    expect(events.find((e) => e.type === 'experiment_cancelled')).toMatchObject({ exp: 'e0002', reason: 'interrupted in an earlier session' });
    const rows = parseResultsTsv(await readFile(join(runFolder, 'results.tsv'), 'utf8'));
    expect(rows.map((r) => [r.experiment, r.status, r.description])).toEqual([
      ['e0000', 'keep', 'baseline'],
      ['e0001', 'keep', 'lower to 8'],
      ['e0003', 'discard', 'a slow change'],
      ['e0004', 'keep', 'lower to 5'],
    ]);
    expect(events.filter((e) => e.type === 'run_started').map((e) => e.type === 'run_started' && e.resumed)).toEqual([false, true]);
  });

  it('leaves no process of the crashed session behind', async () => {
    await waitFor(() => processes(marker).length === 0, 10_000, 'the orphaned bench to be killed').catch(() => undefined);
    expect(processes(marker)).toEqual([]);
    expect(processes(`redis-server`).filter((l) => l.includes(runFolder))).toEqual([]);
  });

  it('keeps the best branch in step with the log and removes stale worktrees', () => {
    expect(git(target.path, 'rev-parse', 'refs/heads/ratchet/crash/best')).toBe(git(target.path, 'rev-parse', 'refs/heads/ratchet/crash/e0004'));
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });
});
