/** SIGKILL of the orchestrator with three candidates in flight, then resume: none lost, none run twice. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents, type RunEvent } from '../../src/domain/events.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { runCli, spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

function processes(pattern: string): string[] {
  return execFileSync('ps', ['-eo', 'stat,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(pattern) && !line.startsWith('Z') && !line.includes('ratchet-watchdog'));
}

const DESCRIPTIONS = ['lower a to 8', 'slow change 2', 'slow change 3', 'slow change 4', 'lower b to 9'];

describe('a run killed outright with three candidates in flight, and resumed', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let resumed: CliResult;
  let runFolder: string;
  let events: RunEvent[];
  const marker = `ratchet-parallel-crash-${process.pid}`;
  const read = async (): Promise<RunEvent[]> => parseEvents(await readFile(join(runFolder, 'events.jsonl'), 'utf8').catch(() => '')).events;

  beforeAll(async () => {
    work = await tempDir();
    // Written by the fast candidate's bench (a.txt at 8) when it starts.
    const fastBenched = join(work.path, 'fast-benched');
    target = await makeTarget({
      'a.txt': '10\n',
      'b.txt': '10\n',
      // A change that adds src/sN sleeps long enough to be killed in its bench while SLOW is 1 (the first session).
      'bench.sh': `#!/bin/sh\nif [ "$(cat a.txt)" = 8 ]; then : > ${fastBenched}; fi\nif [ "$SLOW" = 1 ] && ls src/s* >/dev/null 2>&1; then echo started; sh -c 'sleep 88; : ${marker}'; fi\necho "METRIC score=$(( $(cat a.txt) + $(cat b.txt) ))"\n`,
      // The slow changes wait in their checks until the fast one's bench has started, so it is
      // kept before theirs: which of three candidates in flight gets the bench first is otherwise
      // a race (a fixed wait of 2 s lost it under the load of the whole suite).
      'ratchet.yaml': `objective: lower\nsandbox: none\neditable: ["a.txt", "b.txt", "src/**"]\nprotected: ["bench.sh"]\nenv: [SLOW]\nchecks: [{ name: settle, run: 'if [ "$SLOW" = 1 ] && ls src/s* >/dev/null 2>&1; then i=0; while [ ! -e ${fastBenched} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi' }]\nbench: { run: sh bench.sh, timeout: 5m, metric: { name: score, goal: minimize } }\nagent: { kind: replay, parallel: 3 }\n`,
    });
    await writePatches(join(work.path, 'patches'), {
      '01-a.patch': replaceLinePatch('a.txt', '10', '8', DESCRIPTIONS[0]),
      '02-slow.patch': createFilePatch('src/s2', 'x', DESCRIPTIONS[1]),
      '03-slow.patch': createFilePatch('src/s3', 'x', DESCRIPTIONS[2]),
      '04-slow.patch': createFilePatch('src/s4', 'x', DESCRIPTIONS[3]),
      '05-b.patch': replaceLinePatch('b.txt', '10', '9', DESCRIPTIONS[4]),
    });
    const experiments = join(work.path, 'experiments');
    runFolder = join(experiments, 'pcrash');
    const args = ['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--run-id', 'pcrash'];
    const cli = spawnCli(args, { env: { REDIS_URL: '', SLOW: '1' } });
    // Killed once e0001 is kept and three slow candidates are in flight, one of them in its bench.
    await waitFor(
      async () => {
        const log = await read();
        const open = new Set<string>();
        for (const e of log) {
          if (e.type === 'experiment_started') open.add(e.exp);
          if (e.type === 'experiment_finished' || e.type === 'experiment_cancelled') open.delete(e.exp);
        }
        const benching = log.some((e) => e.type === 'stage_started' && e.stage === 'bench' && open.has(e.exp));
        return open.size === 3 && benching && log.some((e) => e.type === 'experiment_finished' && e.exp === 'e0001');
      },
      90_000,
      'three candidates in flight',
    ).catch(async (error: unknown) => {
      // What the run did instead, for whoever reads the failure.
      const seen = (await read()).map((e) => `${e.t.slice(11, 23)} ${e.type} ${'exp' in e ? e.exp : ''} ${'stage' in e ? e.stage : ''} ${'verdict' in e ? e.verdict : ''}`);
      throw new Error(`${(error as Error).message}; the run's events:\n${seen.join('\n')}\n${cli.output().slice(-2000)}`);
    });
    await waitFor(() => processes(marker).length > 0, 30_000, 'a slow bench running');
    cli.child.kill('SIGKILL');
    await cli.done;
    resumed = await runCli(['resume', 'pcrash', '--experiments', experiments], { env: { REDIS_URL: '', SLOW: '0' } });
    events = await read();
  }, 240_000);

  afterAll(async () => {
    await target?.cleanup();
    await work?.cleanup();
  });

  it('finishes the run in the second session', () => {
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('stopped (exhausted)');
  });

  it('cancels the three cut off in flight and proposes each of their changes again, once', async () => {
    const cancelled = events.flatMap((e) => (e.type === 'experiment_cancelled' && e.reason === 'interrupted in an earlier session' ? [e.exp] : []));
    expect(cancelled).toHaveLength(3);
    const rows = parseResultsTsv(await readFile(join(runFolder, 'results.tsv'), 'utf8'));
    const candidates = rows.filter((r) => r.experiment !== 'e0000');
    // None lost, none twice: every patch has exactly one verdict.
    const verdicts = events.flatMap((e) => (e.type === 'experiment_finished' ? [`${e.exp} ${e.verdict}: ${e.description} (${e.reason})`] : []));
    expect(candidates.map((r) => r.description).sort(), verdicts.join('\n')).toEqual([...DESCRIPTIONS].sort());
    const recorded = rows.map((r) => r.experiment);
    for (const exp of cancelled) expect(recorded).not.toContain(exp);
  });

  it("keeps the first session's history as it was", () => {
    const first = events.findIndex((e) => e.type === 'run_started' && e.resumed);
    const before = events.slice(0, first).filter((e) => e.type === 'experiment_finished').map((e) => e.type === 'experiment_finished' && [e.exp, e.verdict, e.description]);
    expect(before).toEqual([
      ['e0000', 'keep', 'baseline'],
      ['e0001', 'keep', 'lower a to 8'],
    ]);
    const after = events.slice(first).filter((e) => e.type === 'experiment_finished');
    expect(after.map((e) => e.type === 'experiment_finished' && e.exp)).not.toContain('e0001');
    // Each replayed patch was taken once across both sessions.
    const patches = events.filter((e) => e.type === 'proposed' && e.exp !== 'e0000' && !events.some((c) => c.type === 'experiment_cancelled' && c.exp === e.exp));
    expect(patches.map((e) => e.type === 'proposed' && e.agentState?.['patch']).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('leaves no process of the crashed session, no stale worktree, and the best branch where the log says', async () => {
    await waitFor(() => processes(marker).length === 0, 10_000, 'the orphaned benches to be killed').catch(() => undefined);
    expect(processes(marker)).toEqual([]);
    const best = events.filter((e) => e.type === 'best_advanced').at(-1);
    expect(git(target.path, 'rev-parse', 'refs/heads/ratchet/pcrash/best')).toBe(best?.type === 'best_advanced' ? best.commit : '');
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });
});
