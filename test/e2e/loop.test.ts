import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { RunEvent } from '../../src/domain/events.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { git, tempDir, writeTree } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { checkoutSnapshot, createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

// Each patch is written against the best at the time it is applied: only keeps move it.
const PATCHES: Record<string, string> = {
  '01-lower.patch': replaceLinePatch('value.txt', '10', '8', 'lower the score to 8'),
  '02-raise.patch': replaceLinePatch('value.txt', '8', '9', 'raise the score to 9'),
  '03-tie.patch': createFilePatch('src/notes.txt', 'same score', 'add notes, same score'),
  '04-break-check.patch': createFilePatch('src/broken', 'x', 'break the test'),
  '05-crash.patch': createFilePatch('src/crash', 'x', 'crash the bench'),
  '06-slow.patch': createFilePatch('src/slow', 'x', 'make the bench hang'),
  '07-no-metric.patch': createFilePatch('src/nometric', 'x', 'print no metric'),
  '08-protected.patch': createFilePatch('bench-extra.sh', 'x', 'outside editable'),
  '09-bench.patch': [
    '# rewrite the evaluator',
    'diff --git a/bench.sh b/bench.sh',
    '--- a/bench.sh',
    '+++ b/bench.sh',
    '@@ -1,2 +1,2 @@',
    '-#!/bin/sh',
    '+#!/bin/bash',
    ' if [ -e src/crash ]; then echo "boom" >&2; exit 1; fi',
    '',
  ].join('\n'),
  '10-ignored.patch': createFilePatch('src/scratch.tmp', 'x', 'only an ignored file'),
  '11-stale.patch': replaceLinePatch('value.txt', '10', '7', 'written against an old best'),
  '12-lower-again.patch': replaceLinePatch('value.txt', '8', '6', 'lower the score to 6'),
};

const EXPECTED: [string, string, RegExp][] = [
  ['e0001', 'keep', /score 10 → 8/],
  ['e0002', 'discard', /worse/],
  ['e0003', 'discard', /tie/],
  ['e0004', 'checks_failed', /check "test" failed/],
  ['e0005', 'crash', /bench exited 1/],
  ['e0006', 'timeout', /timed out/],
  ['e0007', 'crash', /metric "score" not found/],
  ['e0008', 'rejected', /outside editable/],
  ['e0009', 'rejected', /protected path bench\.sh/],
  ['e0010', 'rejected', /empty diff/],
  ['e0011', 'rejected', /does not apply/],
  ['e0012', 'keep', /score 8 → 6/],
];

describe('a run with the replay agent', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  const bestAfter = new Map<string, string>();
  const events: RunEvent[] = [];
  let before: Record<string, string>;
  let userFiles: { dirty: string; untracked: string };

  beforeAll(async () => {
    target = await makeTarget();
    work = await tempDir();
    await writePatches(join(work.path, 'patches'), PATCHES);
    // The user is in the middle of something: a staged change, a dirty file, an untracked file.
    await writeTree(target.path, { 'src/lib.txt': 'library, edited\n', 'notes.md': 'my notes\n' });
    git(target.path, 'add', 'src/lib.txt');
    await writeTree(target.path, { 'src/lib.txt': 'library, edited twice\n' });
    before = checkoutSnapshot(target.path);
    userFiles = { dirty: await readFile(join(target.path, 'src/lib.txt'), 'utf8'), untracked: await readFile(join(target.path, 'notes.md'), 'utf8') };

    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-verdicts',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'experiment_finished') {
          bestAfter.set(event.exp, git(target.path, 'rev-parse', 'refs/heads/ratchet/e2e-verdicts/best'));
        }
      },
    });
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('measures the baseline as e0000 and keeps it', () => {
    const baseline = events.find((e) => e.type === 'experiment_finished' && e.exp === 'e0000');
    expect(baseline).toMatchObject({ verdict: 'keep', metric: 10, commit: before.head });
  });

  it('gives each patch its verdict with a reason', () => {
    const finished = events.filter((e): e is Extract<RunEvent, { type: 'experiment_finished' }> => e.type === 'experiment_finished' && e.exp !== 'e0000');
    expect(finished.map((e) => [e.exp, e.verdict])).toEqual(EXPECTED.map(([exp, verdict]) => [exp, verdict]));
    for (const [exp, , reason] of EXPECTED) expect(finished.find((e) => e.exp === exp)?.reason).toMatch(reason);
  });

  it('advances the best branch only on keep', () => {
    const keep1 = git(target.path, 'rev-parse', 'refs/heads/ratchet/e2e-verdicts/e0001');
    const keep2 = git(target.path, 'rev-parse', 'refs/heads/ratchet/e2e-verdicts/e0012');
    expect(bestAfter.get('e0000')).toBe(before.head);
    for (const exp of ['e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006', 'e0007', 'e0008', 'e0009', 'e0010', 'e0011']) {
      expect(bestAfter.get(exp), exp).toBe(keep1);
    }
    expect(bestAfter.get('e0012')).toBe(keep2);
    expect(git(target.path, 'rev-parse', `${keep2}^`)).toBe(keep1);
  });

  it('stops when the agent runs out of patches, with the summary', () => {
    expect(outcome.stop.reason).toBe('exhausted');
    expect(outcome.summary).toMatchObject({ baseline: 10, best: { experiment: 'e0012', metric: 6 }, experiments: 12 });
    expect(outcome.summary.counts).toMatchObject({ keep: 2, discard: 2, checks_failed: 1, crash: 2, timeout: 1, rejected: 4 });
    expect(outcome.summary.gain).toBeCloseTo(0.4);
  });

  it('keeps every committed candidate reachable by its ref after its worktree is gone', () => {
    const refs = git(target.path, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/ratchet/e2e-verdicts/');
    for (const exp of ['e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006', 'e0007', 'e0008', 'e0009', 'e0012']) {
      expect(refs).toContain(`ratchet/e2e-verdicts/${exp}`);
    }
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });

  it("never touches the user's checkout", async () => {
    expect(checkoutSnapshot(target.path)).toEqual(before);
    expect(await readFile(join(target.path, 'src/lib.txt'), 'utf8')).toBe(userFiles.dirty);
    expect(await readFile(join(target.path, 'notes.md'), 'utf8')).toBe(userFiles.untracked);
  });

  it('writes results.tsv with autoresearch columns first and one row per experiment', async () => {
    const text = await readFile(join(outcome.summary.runDir, 'results.tsv'), 'utf8');
    expect(text.split('\n')[0]!.split('\t').slice(0, 8)).toEqual(['commit', 'score', 'memory_gb', 'status', 'description', 'experiment', 'reason', 'duration_s']);
    const rows = parseResultsTsv(text);
    expect(rows.map((r) => r.status)).toEqual(['keep', ...EXPECTED.map(([, v]) => v)]);
    expect(rows[1]).toMatchObject({ commit: git(target.path, 'rev-parse', '--short=7', 'refs/heads/ratchet/e2e-verdicts/e0001'), score: '8', description: 'lower the score to 8' });
  });

  it('leaves patch, logs and result for each experiment', async () => {
    const dir = outcome.summary.runDir;
    expect(await readFile(join(dir, 'e0001', 'patch.diff'), 'utf8')).toContain('+8');
    expect(await readFile(join(dir, 'e0004', 'checks.log'), 'utf8')).toContain('test ! -e src/broken');
    expect(await readFile(join(dir, 'e0005', 'bench.log'), 'utf8')).toContain('boom');
    const result = JSON.parse(await readFile(join(dir, 'e0005', 'result.json'), 'utf8')) as { verdict: string; failureTail: string };
    expect(result).toMatchObject({ verdict: 'crash' });
    expect(result.failureTail).toContain('boom');
    const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as { base: string; spec: { bench: { metric: { name: string } } } };
    expect(run).toMatchObject({ base: before.head, spec: { bench: { metric: { name: 'score' } } } });
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ v: 1, run: 'e2e-verdicts' });
  });

  it('leaves no bench process behind after the timeout', () => {
    const ps = execFileSync('ps', ['-eo', 'stat,args'], { encoding: 'utf8' });
    const live = ps.split('\n').filter((l) => l.includes('ratchet-target-slow-bench') && !l.startsWith('Z') && !l.includes('ratchet-watchdog'));
    expect(live).toEqual([]);
  });
});
