import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { RunEvent } from '../../src/domain/events.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget } from '../helpers/target.js';

// A stand-in for a coding agent that leaves build output behind: it says in its description
// whether it found any left by the candidate before it (its own, or its bench's), and where it
// ran, then leaves its own (ignored by the target's `*.tmp`, so never part of a commit) and
// lowers the score by one.
const AGENT = [
  'if [ -e build/cache.tmp ] || [ -e scratch.tmp ] || [ -e bench-out.tmp ]; then seen=leftovers; else seen=clean; fi;',
  'mkdir -p build .ratchet; echo x > build/cache.tmp; echo x > scratch.tmp;',
  'echo $(( $(cat value.txt) - 1 )) > value.txt;',
  'echo "lower the score ($seen in $(pwd))" > .ratchet/description',
].join(' ');

describe('a run on pooled worktrees', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  const events: RunEvent[] = [];

  beforeAll(async () => {
    target = await makeTarget();
    work = await tempDir();
    outcome = await startRun({
      repo: target.path,
      // The bench is the last stage, so nothing of the evaluation cleans up what it writes.
      flags: { agent: 'command', agentRun: AGENT, maxExperiments: 3, bench: 'echo x > bench-out.tmp; sh bench.sh' },
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'e2e-pool',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
      onEvent: (event) => events.push(event),
    });
  }, 120_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it("gives each candidate the last one's worktree without the files the last candidate left in it", () => {
    expect(outcome.stop.reason).toBe('budget');
    const proposed = events.filter((e): e is Extract<RunEvent, { type: 'proposed' }> => e.type === 'proposed' && e.exp !== 'e0000');
    const said = proposed.map((e) => /^lower the score \((\w+) in (.+)\)$/.exec(e.description)?.slice(1));
    expect(said.map((s) => s?.[0])).toEqual(['clean', 'clean', 'clean']);
    // Worktrees were reused (the confined agent's next one is made ready ahead, so two take
    // turns): a candidate found an earlier one's folder, and found it clean.
    expect(new Set(said.map((s) => s?.[1])).size).toBeLessThan(said.length);
    expect(said[0]?.[1]).toMatch(/\/pool-1$/);
  });

  it('keeps each candidate on its own commit, and leaves no worktree when the run ends', () => {
    expect(outcome.summary).toMatchObject({ baseline: 10, best: { experiment: 'e0003', metric: 7 }, counts: { keep: 3 } });
    expect(git(target.path, 'show', 'refs/heads/ratchet/e2e-pool/e0003:value.txt')).toBe('7');
    expect(git(target.path, 'show', '--name-only', '--format=', 'refs/heads/ratchet/e2e-pool/e0002')).toBe('value.txt');
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });
});
