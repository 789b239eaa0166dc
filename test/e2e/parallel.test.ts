import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { EventOf, RunEvent } from '../../src/domain/events.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

// The score is the sum of three files; every patch is written against the base commit.
const PATCHES: Record<string, string> = {
  '01-a.patch': replaceLinePatch('a.txt', '10', '8', 'lower a to 8'),
  '02-b.patch': replaceLinePatch('b.txt', '10', '8', 'lower b to 8'),
  '03-a-again.patch': replaceLinePatch('a.txt', '10', '9', 'lower a to 9'),
  '04-c.patch': replaceLinePatch('c.txt', '10', '11', 'raise c to 11'),
};

type Finished = EventOf<'experiment_finished'>;

describe('a run with three candidates in flight', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  const events: RunEvent[] = [];
  let mostInFlight = 0;

  beforeAll(async () => {
    target = await makeTarget({
      'a.txt': '10\n',
      'b.txt': '10\n',
      'c.txt': '10\n',
      // Long enough that the first three are all proposed from the base before any bench ends.
      'bench.sh': '#!/bin/sh\nsleep 1\necho "METRIC score=$(( $(cat a.txt) + $(cat b.txt) + $(cat c.txt) ))"\n',
      'ratchet.yaml': [
        'objective: lower the sum',
        'editable: ["a.txt", "b.txt", "c.txt"]',
        'protected: ["bench.sh", "ratchet.yaml"]',
        'bench: { run: sh bench.sh, timeout: 20s, metric: { name: score, goal: minimize } }',
        'agent: { kind: replay, parallel: 3 }',
        '',
      ].join('\n'),
    });
    work = await tempDir();
    await writePatches(join(work.path, 'patches'), PATCHES);
    const flying = new Set<string>();
    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-parallel',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'experiment_started') flying.add(event.exp);
        if (event.type === 'experiment_finished' || event.type === 'experiment_cancelled') flying.delete(event.exp);
        mostInFlight = Math.max(mostInFlight, flying.size);
      },
    });
  }, 180_000);

  afterAll(async () => {
    await target?.cleanup();
    await work?.cleanup();
  });

  const finished = (): Finished[] => events.filter((e): e is Finished => e.type === 'experiment_finished' && e.exp !== 'e0000');

  it('keeps three candidates in flight, and gives each patch exactly one verdict', () => {
    expect(mostInFlight).toBe(3);
    expect(outcome.stop.reason).toBe('exhausted');
    expect(finished().map((e) => e.description).sort()).toEqual(['lower a to 8', 'lower a to 9', 'lower b to 8', 'raise c to 11']);
  });

  it('re-applies a keep measured on an older best, and gives the one that no longer applies the verdict conflict', async () => {
    const byDescription = new Map(finished().map((e) => [e.description, e]));
    const a = [byDescription.get('lower a to 8')!, byDescription.get('lower a to 9')!];
    expect(a.map((e) => e.verdict).sort()).toEqual(['conflict', 'keep']);
    expect(a.find((e) => e.verdict === 'conflict')?.reason).toMatch(/a\.txt conflict/);
    expect(byDescription.get('lower b to 8')?.verdict).toBe('keep');
    const reapplied = events.filter((e) => e.type === 'reapplied');
    expect(reapplied.length).toBeGreaterThanOrEqual(1);
    // The first measurement's bench log is kept beside the second's.
    for (const e of reapplied) {
      expect(await readFile(join(work.path, 'experiments', 'e2e-parallel', e.exp, 'first-bench.log'), 'utf8')).toMatch(/METRIC score=/);
    }
    expect(outcome.summary.best?.metric).toBeOneOf([26, 27]);
  });

  it('leaves the best branch a linear chain in which every keep was measured on top of the commit before it', () => {
    const advanced = events.filter((e): e is EventOf<'best_advanced'> => e.type === 'best_advanced');
    expect(advanced.length).toBe(3);
    for (let i = 1; i < advanced.length; i++) {
      const keep = finished().find((e) => e.exp === advanced[i]!.exp)!;
      expect(keep.commit).toBe(advanced[i]!.commit);
      expect(keep.parent).toBe(advanced[i - 1]!.commit);
      expect(git(target.path, 'rev-parse', `${advanced[i]!.commit}^`)).toBe(advanced[i - 1]!.commit);
    }
    expect(git(target.path, 'rev-parse', 'refs/heads/ratchet/e2e-parallel/best')).toBe(advanced.at(-1)!.commit);
  });

  it("names the worker that ran each stage: the run's own, by the host name", () => {
    const stages = events.filter((e): e is EventOf<'stage_finished'> => e.type === 'stage_finished');
    // A stage the spec gives nothing to run (no setup command, no checks) is no job: no worker ran it.
    const jobless = (e: EventOf<'stage_finished'>): boolean => (e.stage === 'setup' && e.status === 'skipped') || (e.stage === 'checks' && e.status === 'ok');
    const ran = stages.filter((e) => !jobless(e));
    expect(ran.length).toBeGreaterThan(0);
    expect(new Set(ran.map((e) => e.worker))).toEqual(new Set([hostname()]));
    expect(stages.filter((e) => e.worker === undefined).every(jobless)).toBe(true);
  });

  it('removes every worktree once the run ends', () => {
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });
});
