import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/domain/errors.js';
import type { EvaluationRequest, EvaluationStatus, StageOutcome } from '../../src/domain/evaluation.js';
import { combineStages } from '../../src/plan/combine.js';
import { roundSeed } from '../../src/plan/calibration.js';
import { metricNotFound } from '../../src/eval/metric.js';
import { createStageExecutor } from '../../src/eval/stages.js';
import type { StageResult } from '../../src/domain/job.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { inertGuard } from '../../src/testing/inert-guard.js';
import { fixedCheckouts } from '../../src/testing/fixed-checkouts.js';
import type { EvalCheckouts } from '../../src/domain/checkout-guard.js';
import { specSchema, type SpecInput } from '../../src/domain/spec.js';
import { tempDir, writeTree } from '../helpers/gitdir.js';

/**
 * A bench that counts its runs in `count`, appends `<side> <n>` to the shared order file, and
 * prints `METRIC x=<base + n>` and `METRIC rss_mb=<10 n>`.
 */
const benchScript = (side: string, base: number, order: string): string =>
  [
    'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count',
    `echo "${side} $n" >> ${order}`,
    `echo "METRIC x=$((${base}+n))"`,
    'echo "METRIC rss_mb=$((n*10))"',
  ].join('\n');

let root: { path: string; cleanup: () => Promise<void> };
let order: string;
beforeEach(async () => {
  root = await tempDir('ratchet-stages-');
  order = join(root.path, 'order');
  await writeTree(root.path, {
    'cand/bench.sh': benchScript('candidate', 100, order),
    'parent/bench.sh': benchScript('parent', 200, order),
  });
});
afterEach(async () => {
  await root.cleanup();
});

const folders = (): Parameters<typeof fixedCheckouts>[0] => ({ gitDir: join(root.path, 'no-git'), candidate: join(root.path, 'cand'), parent: join(root.path, 'parent') });
// The folders move with each test's root: looked up when a stage opens them.
const checkouts: EvalCheckouts = { open: (request, signal) => fixedCheckouts(folders()).open(request, signal), close: () => Promise.resolve() };
const execute = createStageExecutor(new ExecaCommandRunner({ killGraceMs: 200 }), inertGuard(), checkouts);
const never = new AbortController().signal;
const logDir = (): string => join(root.path, 'logs');

function request(spec: Partial<SpecInput>, withParent = false): EvaluationRequest {
  return {
    runId: 'run-1',
    experiment: 'e0003',
    commit: 'c0ffee',
    parentCommit: withParent ? 'beef00' : undefined,
    baseCommit: 'base00',
    source: { kind: 'local', gitDir: join(root.path, 'no-git') },
    // The order file is outside the worktree: these tests are of the stages, not of the sandbox.
    spec: specSchema.parse({ objective: 'go faster', sandbox: 'none', bench: { run: 'sh bench.sh', metric: { name: 'x', goal: 'maximize' } }, ...spec }),
  };
}

const bench = (extra: Record<string, unknown> = {}): SpecInput['bench'] => ({ run: 'sh bench.sh', metric: { name: 'x', goal: 'maximize' }, ...extra });
const readLog = (name: string): Promise<string> => readFile(join(root.path, 'logs', name), 'utf8');
const lines = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).trim().split('\n');

describe('setup stage', () => {
  it('runs the setup command in the worktree with the RATCHET_ variables and logs it', async () => {
    const result = await execute(request({ setup: 'echo "$RATCHET_RUN $RATCHET_EXPERIMENT $RATCHET_WORKTREE" > env.txt' }), 'setup', never, logDir());
    expect(result.outcomes).toMatchObject([{ stage: 'setup', name: 'setup', status: 'ok', exitCode: 0 }]);
    expect(await readFile(join(root.path, 'cand/env.txt'), 'utf8')).toBe(`run-1 e0003 ${join(root.path, 'cand')}\n`);
    expect(await readLog('setup.log')).toContain('==> setup in the candidate worktree (e0003 at c0ffee)');
  });

  it('is skipped without a setup command', async () => {
    const result = await execute(request({}), 'setup', never, logDir());
    expect(result.outcomes).toMatchObject([{ status: 'skipped', reason: 'no setup command' }]);
  });

  it('also sets up the parent worktree for an A/B bench, once per parent', async () => {
    const spec = { setup: 'echo $RATCHET_SIDE >> setups', bench: bench({ repeat: 3 }) };
    const first = await execute(request(spec, true), 'setup', never, logDir());
    expect(first.outcomes[0]).toMatchObject({ status: 'ok', reason: 'setup passed in the candidate and parent worktrees' });
    expect(await lines(join(root.path, 'parent/setups'))).toEqual(['parent']);
    const again = await execute(request(spec, true), 'setup', never, logDir());
    expect(again.outcomes[0]?.status).toBe('ok');
    expect(await lines(join(root.path, 'parent/setups'))).toEqual(['parent']);
    expect(await readLog('setup.log')).toMatch(/==> setup in the parent worktree \(beef00 at .*parent\)/);
  });

  it('leaves the parent alone when the bench is not A/B', async () => {
    await execute(request({ setup: 'echo $RATCHET_SIDE >> setups' }, true), 'setup', never, logDir());
    await expect(readFile(join(root.path, 'parent/setups'))).rejects.toThrow(/ENOENT/);
  });

  it('fails with the exit code and the tail of the output', async () => {
    const result = await execute(request({ setup: 'echo cannot install; exit 2' }), 'setup', never, logDir());
    expect(result.outcomes).toMatchObject([{ status: 'failed', exitCode: 2, reason: 'setup failed (exit 2)' }]);
    expect(result.failureTail).toBe('cannot install');
  });
});

describe('checks stage', () => {
  it('runs checks in order, stops at the first failure and says which failed', async () => {
    const checks = [
      { name: 'lint', run: 'echo linting' },
      { name: 'test', run: 'i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done; exit 1' },
      { name: 'types', run: 'touch ran-types' },
    ];
    const result = await execute(request({ checks }), 'checks', never, logDir());
    expect(result.outcomes.map((o) => [o.name, o.status])).toEqual([['lint', 'ok'], ['test', 'failed'], ['types', 'skipped']]);
    expect(result.outcomes[1]).toMatchObject({ exitCode: 1, reason: 'check "test" failed (exit 1)' });
    const tail = result.failureTail!.split('\n');
    expect(tail).toHaveLength(60);
    expect(tail.at(-1)).toBe('line 99');
    await expect(readFile(join(root.path, 'cand/ran-types'))).rejects.toThrow(/ENOENT/);
    const log = await readLog('checks.log');
    expect(log).toContain('==> check "lint" (1/3)');
    expect(log).toContain('==> check "test" (2/3)');
    expect(log).not.toContain('"types"');
  });

  it('reports a check that runs past its timeout', async () => {
    const result = await execute(request({ checks: [{ name: 'slow', run: 'echo started; sleep 30', timeout: '1s' }] }), 'checks', never, logDir());
    expect(result.outcomes).toMatchObject([{ name: 'slow', status: 'timeout', reason: 'check "slow" timed out after 1s' }]);
    expect(result.failureTail).toBe('started');
  });

  it('passes when every check passes', async () => {
    const result = await execute(request({ checks: [{ name: 'a', run: 'true' }, { name: 'b', run: 'true' }] }), 'checks', never, logDir());
    expect(result.outcomes.map((o) => o.status)).toEqual(['ok', 'ok']);
    expect(result.failureTail).toBeUndefined();
  });
});

describe('bench stage', () => {
  it('runs warmups unrecorded, then repeat runs, and reports the median', async () => {
    const result = await execute(request({ bench: bench({ warmup: 2, repeat: 3, constraints: [{ metric: 'rss_mb', max: 512 }] }) }), 'bench', never, logDir());
    expect(await lines(order)).toEqual(['candidate 1', 'candidate 2', 'candidate 3', 'candidate 4', 'candidate 5']);
    // Runs 3, 4, 5 are recorded: x = 103, 104, 105.
    expect(result.measurement).toEqual({
      metric: 104,
      secondary: { rss_mb: 40 },
      samples: [103, 104, 105].map((v) => ({ side: 'candidate', metric: v, secondary: { rss_mb: (v - 100) * 10 } })),
    });
    expect(result.outcomes).toMatchObject([{ stage: 'bench', status: 'ok', reason: 'x = 104 (median of 3 runs)' }]);
    expect(await readLog('bench.log')).toMatch(/==> bench warmup 1\/2 \(candidate, c0ffee, seed \d+\)/);
  });

  it('alternates candidate and parent, candidate first, warmups included', async () => {
    const result = await execute(request({ bench: bench({ warmup: 1, repeat: 4 }) }, true), 'bench', never, logDir());
    expect(await lines(order)).toEqual(['candidate 1', 'parent 1', 'candidate 2', 'parent 2', 'candidate 3', 'parent 3', 'candidate 4', 'parent 4', 'candidate 5', 'parent 5']);
    expect(result.measurement!.samples.map((s) => `${s.side} ${s.metric}`)).toEqual([
      'candidate 102', 'parent 202', 'candidate 103', 'parent 203', 'candidate 104', 'parent 204', 'candidate 105', 'parent 205',
    ]);
    expect(result.measurement!.metric).toBe(103.5);
    expect(result.outcomes[0]?.reason).toBe('x = 103.5 (median of 4 A/B runs)');
  });

  it('gives both runs of a pair one seed, each pair its own, in RATCHET_SEED and {seed}', async () => {
    const seeds = join(root.path, 'seeds');
    const run = `echo "$RATCHET_SIDE {seed} $RATCHET_SEED" >> ${seeds}; echo METRIC x=1`;
    await execute(request({ bench: bench({ run, repeat: 3 }) }, true), 'bench', never, logDir());
    const rows = (await readFile(seeds, 'utf8')).trim().split('\n').map((line) => line.split(' '));
    expect(rows.map((r) => r[0])).toEqual(['candidate', 'parent', 'candidate', 'parent', 'candidate', 'parent']);
    for (const [, substituted, env] of rows) expect(substituted).toBe(env);
    const perRound = [0, 2, 4].map((i) => rows[i]![1]);
    expect([1, 3, 5].map((i) => rows[i]![1])).toEqual(perRound);
    expect(new Set(perRound).size).toBe(3);
    // The same experiment gets the same seeds again (a resumed or re-run experiment).
    expect(perRound).toEqual([1, 2, 3].map((round) => String(roundSeed('run-1', 'e0003', round))));
  });

  it('runs one bench run per calibration seed, in order, whatever repeat says', async () => {
    const seeds = join(root.path, 'seeds');
    const run = `echo "$RATCHET_SEED" >> ${seeds}; echo METRIC x=1`;
    const stopping = createStageExecutor(new ExecaCommandRunner(), inertGuard(), checkouts, { policy: () => 'stop' });
    const result = await stopping({ ...request({ bench: bench({ run }) }), seeds: [7, 8, 9, 7] }, 'bench', never, logDir());
    expect((await readFile(seeds, 'utf8')).trim().split('\n')).toEqual(['7', '8', '9', '7']);
    expect(result.measurement!.samples).toHaveLength(4);
  });

  it('measures only the candidate when repeat is 1', async () => {
    await execute(request({ bench: bench({ repeat: 1 }) }, true), 'bench', never, logDir());
    expect(await lines(order)).toEqual(['candidate 1']);
  });

  it('lets a policy stop after a round, and bounds it by max_repeat', async () => {
    const stopping = createStageExecutor(new ExecaCommandRunner(), inertGuard(), checkouts, { policy: (samples) => (samples.length >= 4 ? 'stop' : 'continue') });
    const early = await stopping(request({ bench: bench({ repeat: 5 }) }, true), 'bench', never, logDir());
    expect(early.measurement!.samples).toHaveLength(4);

    await writeTree(root.path, { order: '' });
    const greedy = createStageExecutor(new ExecaCommandRunner(), inertGuard(), checkouts, { policy: () => 'continue' });
    const bounded = await greedy(request({ bench: bench({ repeat: 2, max_repeat: 3 }) }), 'bench', never, logDir());
    expect(bounded.measurement!.samples.map((s) => s.side)).toEqual(['candidate', 'candidate', 'candidate']);
  });

  it.each([
    ['a missing metric', 'echo hello', 'crash', metricNotFound({ name: 'x' })],
    ['a NaN metric', 'echo METRIC x=NaN', 'crash', 'metric "x" is not finite: NaN'],
    ['a non-zero exit', 'echo METRIC x=1; exit 1', 'crash', 'bench exited 1'],
    ['a timeout', 'echo METRIC x=1; sleep 30', 'timeout', 'bench timed out after 1s'],
  ])('turns %s into a failed bench with a reason', async (_label, run, status, reason) => {
    const result = await execute(request({ bench: bench({ run, timeout: '1s' }) }), 'bench', never, logDir());
    expect(result.outcomes).toMatchObject([{ stage: 'bench', status, reason }]);
    expect(result.measurement).toBeUndefined();
    expect(result.failureTail).toMatch(/hello|METRIC/);
  });

  it('says when it was the parent side that failed', async () => {
    await writeTree(root.path, { 'parent/bench.sh': 'echo no metric here' });
    const result = await execute(request({ bench: bench({ repeat: 2 }) }, true), 'bench', never, logDir());
    expect(result.outcomes[0]).toMatchObject({ status: 'crash', reason: `${metricNotFound({ name: 'x' })} (parent)` });
  });

  it('throws AbortedError when aborted mid-run', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(execute(request({ bench: bench({ run: 'sleep 30' }) }), 'bench', controller.signal, logDir())).rejects.toBeInstanceOf(AbortedError);
  });
});

describe('combineStages', () => {
  const o = (stage: StageOutcome['stage'], status: StageOutcome['status'], reason: string, durationS = 1): StageOutcome => ({ stage, name: stage, status, exitCode: undefined, durationS, reason });
  const okSetup: StageResult = { outcomes: [o('setup', 'ok', 'setup passed')] };
  const okChecks: StageResult = { outcomes: [o('checks', 'ok', 'check passed'), o('checks', 'ok', 'check passed')] };
  const measurement = { metric: 2, samples: [], secondary: {} };

  const failures: [string, StageResult[], EvaluationStatus][] = [
    ['a failed setup', [{ outcomes: [o('setup', 'failed', 'setup failed (exit 1)')], failureTail: 't' }], 'crash'],
    ['a timed-out setup', [{ outcomes: [o('setup', 'timeout', 'setup timed out after 15m')], failureTail: 't' }], 'crash'],
    ['a failed check', [okSetup, { outcomes: [o('checks', 'failed', 'check "test" failed (exit 1)'), o('checks', 'skipped', 'skipped')], failureTail: 't' }], 'checks_failed'],
    ['a timed-out check', [okSetup, { outcomes: [o('checks', 'timeout', 'check "test" timed out after 2m')], failureTail: 't' }], 'timeout'],
    ['a crashed bench', [okSetup, okChecks, { outcomes: [o('bench', 'crash', 'bench exited 1')], failureTail: 't' }], 'crash'],
    ['a timed-out bench', [okSetup, okChecks, { outcomes: [o('bench', 'timeout', 'bench timed out after 5m')], failureTail: 't' }], 'timeout'],
  ];
  it.each(failures)('maps %s to %s with its reason and tail', (_label, results, status) => {
    const evaluation = combineStages(results);
    const failed = results.at(-1)!.outcomes[0]!;
    expect(evaluation).toMatchObject({ status, reason: failed.reason, failureTail: 't', measurement: undefined });
  });

  it('is ok with the measurement when every stage passed, and sums the durations', () => {
    const benchResult: StageResult = { outcomes: [o('bench', 'ok', 'x = 2 (median of 3 runs)', 2.5)], measurement };
    const evaluation = combineStages([{ outcomes: [o('setup', 'skipped', 'no setup command', 0)] }, okChecks, benchResult]);
    expect(evaluation).toEqual({
      status: 'ok',
      reason: 'x = 2 (median of 3 runs)',
      stages: [...[o('setup', 'skipped', 'no setup command', 0)], ...okChecks.outcomes, ...benchResult.outcomes],
      measurement,
      durationS: 4.5,
      failureTail: undefined,
    });
  });

  it('keeps the reason to one line', () => {
    expect(combineStages([{ outcomes: [o('bench', 'crash', 'bench exited 1\n  while reading')] }]).reason).toBe('bench exited 1 while reading');
  });

  it('combines real stage results end to end', async () => {
    const req = request({ setup: 'true', checks: [{ name: 'test', run: 'true' }], bench: bench({ repeat: 3 }) }, true);
    const results = [await execute(req, 'setup', never, logDir()), await execute(req, 'checks', never, logDir()), await execute(req, 'bench', never, logDir())];
    const evaluation = combineStages(results);
    expect(evaluation.status).toBe('ok');
    expect(evaluation.measurement?.metric).toBe(102);
    expect(evaluation.stages.map((s) => s.stage)).toEqual(['setup', 'checks', 'bench']);
  });
});

describe("watching the user's checkout", () => {
  /** A guard that remembers whether each stage asked for the user's checkout in its snapshot. */
  function watchingGuard(): { guard: ReturnType<typeof inertGuard>; asked: boolean[] } {
    const asked: boolean[] = [];
    const guard = inertGuard();
    return { asked, guard: { ...guard, snapshotRepo: (gitDir, options) => (asked.push(options?.checkout === true), guard.snapshotRepo(gitDir, options)) } };
  }
  // Bubblewrap does not work for this runner: every command runs unconfined.
  const unconfined = new ExecaCommandRunner({ killGraceMs: 200, probe: () => Promise.resolve({ ok: false, reason: 'no bwrap in this test' }) });

  it('watches it around each stage under sandbox: auto where bubblewrap does not work', async () => {
    const { guard, asked } = watchingGuard();
    const run = createStageExecutor(unconfined, guard, checkouts, { sandboxWorks: () => Promise.resolve(false) });
    const result = await run(request({ sandbox: 'auto', checks: [{ name: 'ok', run: 'true' }] }), 'checks', never, logDir());
    expect(result.outcomes).toMatchObject([{ status: 'ok' }]);
    expect(asked).toEqual([true]);
  });

  it('leaves it alone where bubblewrap works, and rejects a stage whose command ran outside the sandbox all the same', async () => {
    const { guard, asked } = watchingGuard();
    const run = createStageExecutor(unconfined, guard, checkouts, { sandboxWorks: () => Promise.resolve(true) });
    const result = await run(request({ sandbox: 'auto', checks: [{ name: 'ok', run: 'true' }] }), 'checks', never, logDir());
    // Inside the sandbox nothing of the repository is writable: no snapshot is taken at all.
    expect(asked).toEqual([]);
    expect(result.outcomes[0]).toMatchObject({ status: 'rejected' });
    expect(result.outcomes[0]?.reason).toMatch(/ran outside the sandbox, which was expected to work here/);
  });
});
