/**
 * `repeat: auto`, the default, end to end: the baseline's calibration decides how candidates are
 * measured, and with nothing about noise in the spec a run keeps real gains and no noise.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { Calibration } from '../../src/domain/run-state.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

async function runTarget(files: Record<string, string>, patches: Record<string, string>, runId: string): Promise<{ outcome: RunOutcome; cleanup: () => Promise<void> }> {
  const target = await makeTarget(files);
  const work = await tempDir();
  await writePatches(join(work.path, 'patches'), patches);
  const outcome = await startRun({
    repo: target.path,
    flags: { agent: 'replay', patches: join(work.path, 'patches') },
    experimentsRoot: join(work.path, 'experiments'),
    runId,
    redis: `redis+unix://${testRedisSocket()}`,
    signal: new AbortController().signal,
  });
  return { outcome, cleanup: async () => (await target.cleanup(), await work.cleanup()) };
}

async function verdicts(outcome: RunOutcome): Promise<Record<string, string>> {
  const rows = parseResultsTsv(await readFile(join(outcome.summary.runDir, 'results.tsv'), 'utf8'));
  return Object.fromEntries(rows.map((r): [string, string] => [r.experiment ?? "", r.status ?? ""]));
}

async function calibration(outcome: RunOutcome): Promise<Calibration> {
  const info = JSON.parse(await readFile(join(outcome.summary.runDir, 'run.json'), 'utf8')) as { calibration: Calibration };
  return info.calibration;
}

// 5% noise on every run (uniform, SD 5%), nothing about it in the spec: its own for each run
// (a hash of the seed, the side, the experiment and a count of the runs in this worktree),
// unlike seed-determined noise, yet drawn the same way every time the test runs, so a rule that
// keeps about 0.5% of no-ops cannot fail the test one run in twenty (from /dev/urandom it did).
const NOISY_BENCH = `#!/bin/sh
v=$(cat value.txt)
n=$(( $(cat .runs 2>/dev/null || echo 0) + 1 )); echo "$n" > .runs
h=$(printf '%s' "$RATCHET_SEED/$RATCHET_SIDE/$RATCHET_EXPERIMENT/$n" | sha256sum | cut -c1-8)
u=$(printf '%d' "0x$h")
awk -v v="$v" -v u="$u" 'BEGIN { printf "METRIC ms=%.5f\\n", v * (1 + 0.1732 * (u / 4294967296 - 0.5)) }'
`;

const NO_REPEAT_SPEC = `objective: make it faster
editable: ["value.txt", "src/**"]
protected: ["bench.sh"]
bench:
  run: sh bench.sh
  metric: { name: ms, goal: minimize }
`;

describe('repeat: auto on a noisy bench', () => {
  let run: Awaited<ReturnType<typeof runTarget>>;

  beforeAll(async () => {
    const noops = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`0${i + 1}-noop.patch`, createFilePatch(`src/note${i + 1}.txt`, `note ${i + 1}`, `a comment that does nothing (${i + 1})`)]));
    run = await runTarget({ 'bench.sh': NOISY_BENCH, 'ratchet.yaml': NO_REPEAT_SPEC, 'value.txt': '100\n' }, { ...noops, '09-faster.patch': replaceLinePatch('value.txt', '100', '90', 'a real 10% gain') }, 'auto-noisy');
  }, 240_000);

  afterAll(async () => run?.cleanup());

  it('calibrates on the baseline: noisy, so paired A/B runs with a 1% floor at 99% confidence', async () => {
    const c = await calibration(run.outcome);
    expect(c).toMatchObject({ runs: 5, varies: true, seedDetermined: false, mode: 'paired', repeat: 10, explicit: false, minEffect: 0.01, confidence: 0.99 });
    expect(c.spread).toBeGreaterThan(0.01);
  });

  // At 95% about 1% of these no-ops were kept (bench/results/decision-sim.md, `independent`), so
  // one of eight now and then; at the calibrated 99% about 0.2%.
  it('keeps none of eight no-op changes and keeps the real 10% gain', async () => {
    const v = await verdicts(run.outcome);
    const kept = Object.entries(v).filter(([exp, verdict]) => exp !== 'e0000' && exp !== 'e0009' && verdict === 'keep');
    for (const [exp] of kept) console.log('KEPT', exp, await readFile(join(run.outcome.summary.runDir, exp, 'result.json'), 'utf8'), await readFile(join(run.outcome.summary.runDir, exp, 'bench.log'), 'utf8'));
    expect(kept).toEqual([]);
    expect(v['e0009']).toBe('keep');
  });
});

// Deterministic for its seed: the value times a factor set by RATCHET_SEED and by the tree's
// `shuffle` (as a change to a training script moves where its random numbers fall), ±3%.
const SEEDED_BENCH = `#!/bin/sh
v=$(cat value.txt)
s=$(cat src/shuffle.txt)
awk -v v="$v" -v seed="$RATCHET_SEED" -v s="$s" 'BEGIN { srand(seed * 7919 + s); printf "METRIC loss=%.6f\\n", v * (0.97 + 0.06 * rand()) }'
`;

const SEEDED_SPEC = `objective: lower the loss
editable: ["value.txt", "src/**"]
protected: ["bench.sh"]
bench:
  run: sh bench.sh
  metric: { name: loss, goal: minimize }
`;

describe('repeat: auto on a bench deterministic per seed', () => {
  let run: Awaited<ReturnType<typeof runTarget>>;

  beforeAll(async () => {
    const reshuffles = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`0${i + 1}-reshuffle.patch`, replaceLinePatch('src/shuffle.txt', String(i), String(i + 1), `reorder the data loader (${i + 1})`)]));
    run = await runTarget(
      { 'bench.sh': SEEDED_BENCH, 'ratchet.yaml': SEEDED_SPEC, 'value.txt': '100\n', 'src/shuffle.txt': '0\n' },
      { ...reshuffles, '07-better.patch': replaceLinePatch('value.txt', '100', '92', 'a real 8% gain') },
      'auto-seeded',
    );
  }, 240_000);

  afterAll(async () => run?.cleanup());

  it('calibrates on the baseline: set by the seed, so pairs share one', async () => {
    const c = await calibration(run.outcome);
    expect(c).toMatchObject({ runs: 5, varies: true, seedDetermined: true, mode: 'paired', repeat: 10 });
    expect(c.values[4]).toBe(c.values[0]);
  });

  it('keeps none of six changes that only reshuffle the seed-dependent noise, and keeps the real gain', async () => {
    const v = await verdicts(run.outcome);
    expect(['e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006'].map((e) => v[e])).not.toContain('keep');
    expect(v['e0007']).toBe('keep');
  });
});
