import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { BenchSample } from '../../src/domain/evaluation.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

// A noisy bench: the value times (1 ± 2%), different on every run, plus an `rss_mb` reading.
const BENCH = `#!/bin/sh
v=$(cat value.txt)
n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
awk -v v="$v" -v n="$n" 'BEGIN { printf "METRIC ms=%.4f\\nMETRIC rss_mb=%d\\n", v * (0.98 + 0.04 * n / 65535), (v > 200 ? 900 : 100) }'
echo "$RATCHET_SIDE" >> "$SIDES_FILE"
`;

// The sides file is outside the worktree, where only an unsandboxed bench can write.
const SPEC = `objective: make it faster
sandbox: none
editable: ["value.txt", "src/**"]
protected: ["bench.sh"]
env: [SIDES_FILE]
bench:
  run: sh bench.sh
  metric: { name: ms, goal: minimize }
  repeat: 6
  max_repeat: 20
  warmup: 1
  min_effect: 1%
  constraints: [{ metric: rss_mb, max: 512 }]
`;

describe('a noisy metric measured A/B', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  let sides: string[];

  beforeAll(async () => {
    target = await makeTarget({ 'bench.sh': BENCH, 'ratchet.yaml': SPEC, 'value.txt': '100\n' });
    work = await tempDir();
    const sidesFile = join(work.path, 'sides.txt');
    process.env.SIDES_FILE = sidesFile;
    await writePatches(join(work.path, 'patches'), {
      '01-faster.patch': replaceLinePatch('value.txt', '100', '80', 'a real 20% gain'),
      '02-noop.patch': createFilePatch('src/notes.txt', 'nothing', 'a change that does nothing'),
      '03-memory.patch': replaceLinePatch('value.txt', '80', '300', 'fast but hungry').replace('+300', '+300'),
    });
    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'noisy',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
    });
    sides = (await readFile(sidesFile, 'utf8')).trim().split('\n');
  }, 180_000);

  afterAll(async () => {
    delete process.env.SIDES_FILE;
    await target.cleanup();
    await work.cleanup();
  });

  async function result(exp: string): Promise<{ verdict: string; reason: string; samples: BenchSample[]; stats: Record<string, number> }> {
    return JSON.parse(await readFile(join(outcome.summary.runDir, exp, 'result.json'), 'utf8')) as never;
  }

  it('keeps a real gain, with its interval and p-value recorded', async () => {
    const r = await result('e0001');
    expect(r.verdict).toBe('keep');
    expect(r.stats.p_value).toBeLessThan(0.05);
    expect(r.stats.ci_low).toBeGreaterThan(0.01);
    const rows = parseResultsTsv(await readFile(join(outcome.summary.runDir, 'results.tsv'), 'utf8'));
    const row = rows.find((x) => x.experiment === 'e0001')!;
    expect(Number(row.pairs)).toBeGreaterThanOrEqual(6);
    expect(row.p_value).not.toBe('');
  });

  it('measures candidate and parent alternately, candidate first', async () => {
    const r = await result('e0001');
    const order = r.samples.map((s) => s.side);
    expect(order.length % 2).toBe(0);
    order.forEach((side, i) => expect(side).toBe(i % 2 === 0 ? 'candidate' : 'parent'));
    // The bench itself saw the same alternation (after the baseline's runs and the warmups).
    expect(sides).toContain('parent');
  });

  it('discards a change that does nothing', async () => {
    expect((await result('e0002')).verdict).toBe('discard');
  });

  it('discards a candidate that breaks a constraint, naming it', async () => {
    const r = await result('e0003');
    expect(r.verdict).toBe('discard');
    expect(r.reason).toMatch(/rss_mb 900 .*512/);
  });
});
