/**
 * A run with a holdout, end to end (replay agent, real Redis, real bubblewrap): a change that
 * wins the bench and holds on the holdout is kept with its holdout figures; one that wins the
 * bench and loses the holdout is `overfit`; a candidate that goes looking for the holdout from
 * its checks and bench finds an empty folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import { historyRows } from '../../src/loop/record.js';
import type { RunContext } from '../../src/loop/run-context.js';
import type { RunEvent } from '../../src/domain/events.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { foldEvents } from '../../src/plan/fold.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, writePatches } from '../helpers/target.js';

type Finished = Extract<RunEvent, { type: 'experiment_finished' }>;

/** Two lines changed at once: the bench's `value.txt` and the holdout's `cost.txt`. */
function changePatch(value: [string, string], cost: [string, string] | undefined, subject: string): string {
  const file = (path: string, [from, to]: [string, string]) => `diff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -1 +1 @@\n-${from}\n+${to}\n`;
  return `# ${subject}\n${file('value.txt', value)}${cost === undefined ? '' : file('cost.txt', cost)}`;
}

/** A patch that creates `path` with these lines. */
function newFilePatch(path: string, text: string): string {
  const lines = text.split('\n');
  return `diff --git a/${path} b/${path}\nnew file mode 100644\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}\n`;
}

describe('a run with a holdout', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let holdoutDir: string;
  let outcome: RunOutcome;
  let runDir: string;
  const events: RunEvent[] = [];
  const finished = (exp: string): Finished => events.find((e): e is Finished => e.type === 'experiment_finished' && e.exp === exp)!;

  beforeAll(async () => {
    work = await tempDir('ratchet-holdout-e2e-');
    // Inside a folder every sandbox shows (sandbox_paths): only the holdout's hiding keeps it out.
    const shared = join(work.path, 'shared');
    holdoutDir = join(shared, 'holdout-eval');
    await mkdir(holdoutDir, { recursive: true });
    // The holdout needs its own data: it fails when it cannot read it.
    await writeFile(join(holdoutDir, 'secret.txt'), 'HOLDOUT-SECRET-42\n');
    await writeFile(join(holdoutDir, 'confirm.sh'), ['d=$(dirname "$0")', 'grep -q HOLDOUT-SECRET "$d/secret.txt" || exit 3', 'echo "METRIC cost=$(cat cost.txt)"', ''].join('\n'));
    const peek = (stage: string) => `[ ! -e src/peek.sh ] || sh src/peek.sh ${stage}`;
    target = await makeTarget({
      'cost.txt': '5\n',
      'bench.sh': ['#!/bin/sh', peek('bench'), 'echo "METRIC score=$(cat value.txt)"', ''].join('\n'),
      'ratchet.yaml': [
        'objective: make the score lower',
        'editable: ["value.txt", "cost.txt", "src/**"]',
        'protected: ["bench.sh", "ratchet.yaml"]',
        'sandbox: bwrap',
        `sandbox_paths: [${JSON.stringify(shared)}]`,
        'checks:',
        `  - { name: peek, run: ${JSON.stringify(peek('checks'))}, timeout: 10s }`,
        'bench:',
        '  run: sh bench.sh',
        '  timeout: 5s',
        '  metric: { name: score, goal: minimize }',
        'holdout:',
        `  dir: ${JSON.stringify(holdoutDir)}`,
        '  run: sh {holdout}/confirm.sh',
        '  timeout: 5s',
        '  metric: { name: cost, goal: minimize }',
        '  rule: no_regress',
        'budget: { consecutive_failures: 10 }',
        '',
      ].join('\n'),
    });
    const peekScript = [
      `echo "peeking from $1"`,
      `ls -a ${holdoutDir} | sed 's/^/listed: /'`,
      `cat ${holdoutDir}/secret.txt ${holdoutDir}/confirm.sh 2>&1 | sed 's/^/read: /'`,
      `find /tmp ${work.path} -name secret.txt 2>/dev/null | sed 's/^/found: /'`,
    ].join('\n');
    await writePatches(join(work.path, 'patches'), {
      '01-both.patch': changePatch(['10', '8'], undefined, 'lower the score to 8, same cost'),
      '02-overfit.patch': changePatch(['8', '7'], ['5', '6'], 'lower the score to 7 at a higher cost'),
      '03-peek.patch': `${changePatch(['8', '6'], undefined, 'lower the score to 6 and look for the holdout')}${newFilePatch('src/peek.sh', peekScript)}`,
    });
    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-holdout',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => void events.push(event),
      onStart: (info) => void (runDir = info.dir),
    });
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('calibrates the holdout on the baseline too: identical runs, one run per candidate', () => {
    const calibrated = events.filter((e): e is Extract<RunEvent, { type: 'calibrated' }> => e.type === 'calibrated');
    expect(calibrated.map((e) => e.stage ?? 'bench')).toEqual(['bench', 'holdout']);
    expect(calibrated[1]).toMatchObject({ runs: 5, varies: false, mode: 'single', repeat: 1, explicit: false, values: [5, 5, 5, 5, 5] });
  });

  it('measures the holdout of the baseline and of every keep', () => {
    expect(outcome.stop.reason).toBe('exhausted');
    expect(finished('e0000')).toMatchObject({ verdict: 'keep', metric: 10, holdout: { metric: 5, passed: true } });
    expect(finished('e0001')).toMatchObject({ verdict: 'keep', metric: 8, holdout: { metric: 5, parent: 5, change: 0, rule: 'no_regress', passed: true } });
    expect(events.filter((e) => e.type === 'best_advanced').map((e) => [e.exp, e.holdout])).toEqual([
      ['e0000', 5],
      ['e0001', 5],
      ['e0003', 5],
    ]);
  });

  it('calls a change that wins the bench and loses the holdout overfit, with both numbers in the reason', () => {
    expect(finished('e0002')).toMatchObject({
      verdict: 'overfit',
      metric: 7,
      reason: 'bench score -12.5% but holdout cost +20.0% (5 → 6): rule no_regress',
      holdout: { metric: 6, parent: 5, passed: false },
    });
    expect(outcome.summary.best).toMatchObject({ experiment: 'e0003', metric: 6 });
  });

  it('keeps what an overfit candidate tried: its branch, patch and logs', async () => {
    expect(git(target.path, 'rev-parse', '--verify', 'refs/heads/ratchet/e2e-holdout/e0002')).toMatch(/^[0-9a-f]{40}$/);
    expect(await readFile(join(runDir, 'e0002', 'patch.diff'), 'utf8')).toContain('+6');
    expect(await readFile(join(runDir, 'e0002', 'holdout.log'), 'utf8')).toContain('METRIC cost=6');
  });

  it('writes the holdout figures of every keep to results.tsv', async () => {
    const rows = parseResultsTsv(await readFile(join(runDir, 'results.tsv'), 'utf8'));
    expect(rows.map((r) => [r.experiment, r.status, r.holdout, r.holdout_parent, r.holdout_change_pct])).toEqual([
      ['e0000', 'keep', '5', '', ''],
      ['e0001', 'keep', '5', '5', '0'],
      ['e0002', 'overfit', '6', '5', '20'],
      ['e0003', 'keep', '5', '5', '0'],
    ]);
  });

  it("tells the agent overfit without the holdout's figures", async () => {
    const state = foldEvents('e2e-holdout', (await readFile(join(runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RunEvent));
    const rows = historyRows({ store: { getState: () => state } } as unknown as RunContext);
    const overfit = rows.find((r) => r.experiment === 'e0002')!;
    expect(overfit.verdict).toBe('overfit');
    expect(overfit.reason).toMatch(/score 8 → 7 .*but it failed on the holdout, an evaluation you cannot see/);
    expect(overfit.reason).not.toMatch(/cost|→ 6|\+20\.0%/);
    for (const row of rows) expect(row.reason).not.toMatch(/holdout cost|cost \+/);
  });

  it('gives a candidate that looks for the holdout from its checks and bench an empty folder', async () => {
    expect(finished('e0003').verdict).toBe('keep');
    for (const log of ['checks.log', 'bench.log']) {
      const text = await readFile(join(runDir, 'e0003', log), 'utf8');
      expect(text, log).toContain('peeking from');
      expect(text, log).not.toContain('HOLDOUT-SECRET');
      expect(text, log).not.toMatch(/listed: (secret|confirm)/);
      expect(text, log).not.toContain('found: ');
    }
    // The holdout stage itself read it (it fails otherwise), and nothing was written there.
    expect(await readFile(join(runDir, 'e0003', 'holdout.log'), 'utf8')).toContain('METRIC cost=5');
    expect(existsSync(join(holdoutDir, 'written'))).toBe(false);
  });
});

describe('a holdout measured A/B, and its folder checked before anything runs', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  const spec = (dir: string, extra: string[] = []) =>
    [
      'objective: make the score lower',
      'editable: ["value.txt", "cost.txt"]',
      'protected: ["bench.sh", "ratchet.yaml"]',
      'bench: { run: sh bench.sh, timeout: 5s, metric: { name: score, goal: minimize } }',
      `holdout: { dir: ${JSON.stringify(dir)}, run: "cat cost.txt | sed 's/^/METRIC cost=/'", metric: { name: cost, goal: minimize }, repeat: 6 }`,
      ...extra,
      '',
    ].join('\n');

  beforeAll(async () => {
    work = await tempDir('ratchet-holdout-ab-');
    await mkdir(join(work.path, 'holdout-eval'));
    target = await makeTarget({ 'cost.txt': '5\n' });
  });
  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('refuses a holdout folder inside the repository before anything is created', async () => {
    await writeFile(join(target.path, 'inside.yaml'), spec('src'));
    const run = startRun({
      repo: target.path,
      specFile: 'inside.yaml',
      flags: { agent: 'replay', patches: join(work.path, 'none') },
      experimentsRoot: join(work.path, 'refused'),
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
    });
    await expect(run).rejects.toThrow(/holdout\.dir: .*src is inside the target repository/);
    expect(existsSync(join(work.path, 'refused'))).toBe(false);
  });

  it('measures candidate and parent alternately and calls a loss the pairs show overfit; unsandboxed, it says the folder is not hidden', async () => {
    await writePatches(join(work.path, 'patches'), { '01.patch': changePatch(['10', '8'], ['5', '6'], 'lower the score, raise the cost') });
    const warnings: string[] = [];
    const events: RunEvent[] = [];
    // A spec file beside the holdout, outside the repository: the folder is relative to the spec's.
    await writeFile(join(work.path, 'unsandboxed.yaml'), spec('holdout-eval', ['sandbox: none']));
    await startRun({
      repo: target.path,
      specFile: join(work.path, 'unsandboxed.yaml'),
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-holdout-ab',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => void events.push(event),
      onWarning: (message) => void warnings.push(message),
    });
    expect(warnings.join('\n')).toMatch(/holdout: commands run unsandboxed here, .* can read the holdout folder/);
    const e0001 = events.find((e): e is Finished => e.type === 'experiment_finished' && e.exp === 'e0001')!;
    expect(e0001).toMatchObject({ verdict: 'overfit', holdout: { metric: 6, parent: 5, pairs: 6, passed: false } });
    expect(e0001.reason).toMatch(/^bench score -20\.0% but holdout cost \+20\.0% \(5 → 6, medians of 6 pairs, p=0\.016\): rule no_regress$/);
    const log = await readFile(join(work.path, 'experiments', 'e2e-holdout-ab', 'e0001', 'holdout.log'), 'utf8');
    expect(log.match(/==> holdout run \d\/6 \(parent/g)).toHaveLength(6);
  }, 60_000);
});

// 5% noise on every holdout run (uniform), from /dev/urandom; nothing about it is in the spec.
const NOISY_HOLDOUT = `n=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
awk -v c="$(cat cost.txt)" -v n="$n" 'BEGIN { printf "METRIC cost=%.5f\\n", c * (1 + 0.1732 * (n / 4294967295 - 0.5)) }'
`;

describe('a noisy holdout with repeat: auto', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  const events: RunEvent[] = [];
  const finished = (exp: string): Finished => events.find((e): e is Finished => e.type === 'experiment_finished' && e.exp === exp)!;

  beforeAll(async () => {
    work = await tempDir('ratchet-holdout-auto-');
    await mkdir(join(work.path, 'holdout-eval'));
    await writeFile(join(work.path, 'holdout-eval', 'confirm.sh'), NOISY_HOLDOUT);
    target = await makeTarget({ 'cost.txt': '100\n' });
    await writeFile(
      join(work.path, 'ratchet.yaml'),
      [
        'objective: make the score lower',
        'editable: ["value.txt", "cost.txt"]',
        'protected: ["bench.sh"]',
        'bench: { run: sh bench.sh, timeout: 5s, metric: { name: score, goal: minimize } }',
        'holdout: { dir: holdout-eval, run: "sh {holdout}/confirm.sh", timeout: 5s, metric: { name: cost, goal: minimize } }',
        '',
      ].join('\n'),
    );
    await writePatches(join(work.path, 'patches'), {
      '01-overfit.patch': changePatch(['10', '8'], ['100', '120'], 'lower the score, raise the cost by 20%'),
      '02-both.patch': changePatch(['10', '9'], ['100', '80'], 'lower the score and the cost'),
    });
    await startRun({
      repo: target.path,
      specFile: join(work.path, 'ratchet.yaml'),
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-holdout-auto',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => void events.push(event),
    });
  }, 120_000);

  afterAll(async () => {
    await target?.cleanup();
    await work?.cleanup();
  });

  it('calibrates the holdout on the baseline: noisy, so keeps are checked with paired A/B runs', () => {
    const holdout = events.find((e): e is Extract<RunEvent, { type: 'calibrated' }> => e.type === 'calibrated' && e.stage === 'holdout');
    expect(holdout).toMatchObject({ runs: 5, varies: true, seedDetermined: false, mode: 'paired', repeat: 10, explicit: false });
    // Only repeat is the calibration's: the holdout's rule keeps its own min_effect and confidence.
    expect(holdout).not.toHaveProperty('minEffect');
    expect(holdout).not.toHaveProperty('confidence');
  });

  it('calls a 20% holdout loss overfit over the pairs, and keeps a change that holds', () => {
    expect(finished('e0001')).toMatchObject({ verdict: 'overfit', holdout: { pairs: 10, passed: false } });
    expect(finished('e0001').reason).toMatch(/holdout cost \+\d+\.\d% \(.*medians of 10 pairs/);
    expect(finished('e0002')).toMatchObject({ verdict: 'keep', holdout: { pairs: 10, passed: true } });
  });
});
