import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { EventOf, RunEvent } from '../../src/domain/events.js';
import { tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { createFilePatch, makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

// Unsandboxed: inside bubblewrap bench.sh is read-only and the rewrite cannot even happen
// (test/e2e/hostile.test.ts); here ratchet must catch it after the stage.
const SPEC = `objective: make the score lower
sandbox: none
editable: ["value.txt", "src/**", "ratchet.yaml"]
protected: ["bench.sh", "bench/**"]
checks:
  - { name: test, run: "if [ -e src/rewrite ]; then echo 'echo METRIC score=0' > bench.sh; fi" }
bench:
  run: sh bench.sh
  metric: { name: score, goal: minimize }
`;

describe('the protected evaluator', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  const finished: EventOf<'experiment_finished'>[] = [];

  beforeAll(async () => {
    target = await makeTarget({ 'ratchet.yaml': SPEC });
    work = await tempDir();
    await writePatches(join(work.path, 'patches'), {
      // The candidate's own ratchet.yaml says the bench is `echo METRIC score=0`: ignored.
      '01-spec.patch': replaceLinePatch('value.txt', '10', '11', 'raise the value and rewrite the spec').replace(
        /$/,
        [
          'diff --git a/ratchet.yaml b/ratchet.yaml',
          '--- a/ratchet.yaml',
          '+++ b/ratchet.yaml',
          '@@ -6,3 +6,3 @@ checks:',
          ' bench:',
          '-  run: sh bench.sh',
          '+  run: echo METRIC score=0',
          '   metric: { name: score, goal: minimize }',
          '',
        ].join('\n'),
      ),
      // A check that rewrites the evaluator while it runs.
      '02-rewrite.patch': createFilePatch('src/rewrite', 'x', 'let the test rewrite the bench'),
      // Touching the evaluator in the diff itself: rejected before any job runs.
      '03-direct.patch': createFilePatch('bench/helper.sh', 'echo METRIC score=0', 'add a bench helper'),
    });
    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'protected',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event: RunEvent) => {
        if (event.type === 'experiment_finished') finished.push(event);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it("benches with the run's spec, never the candidate's copy of ratchet.yaml", async () => {
    expect(finished.find((e) => e.exp === 'e0001')).toMatchObject({ verdict: 'discard', metric: 11 });
    const bench = await readFile(join(outcome.summary.runDir, 'e0001', 'bench.log'), 'utf8');
    expect(bench).toContain('sh bench.sh');
    expect(bench).not.toContain('echo METRIC score=0');
  });

  it('rejects a candidate that rewrites a protected file while it runs, naming the file', () => {
    const e = finished.find((f) => f.exp === 'e0002');
    expect(e).toMatchObject({ verdict: 'rejected' });
    expect(e?.reason).toBe('changed protected path bench.sh during checks');
  });

  it('rejects a diff that touches a protected path before any job runs', async () => {
    expect(finished.find((f) => f.exp === 'e0003')).toMatchObject({ verdict: 'rejected', reason: 'touches protected path bench/helper.sh' });
    await expect(readFile(join(outcome.summary.runDir, 'e0003', 'checks.log'), 'utf8')).rejects.toThrow();
  });

  it('keeps the best where it was', () => {
    expect(outcome.summary.best).toMatchObject({ experiment: 'e0000', metric: 10 });
  });
});
