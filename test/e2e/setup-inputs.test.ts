import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import { tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget, TARGET_SPEC } from '../helpers/target.js';

// Setup "installs" deps.lock into node_modules; the bench refuses to run without it, so a
// candidate measured without setup's outputs would crash instead of scoring.
const SPEC = `${TARGET_SPEC.replace('  run: sh bench.sh', '  run: "test -f node_modules/dep/version && sh bench.sh"')}setup:
  run: "mkdir -p node_modules/dep && cp deps.lock node_modules/dep/version"
  inputs: [deps.lock]
`;

describe('a run whose setup has inputs', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  let setupLogs: string[];

  beforeAll(async () => {
    target = await makeTarget({ 'ratchet.yaml': SPEC, 'deps.lock': 'dep 1.0\n', '.gitignore': '*.tmp\nnode_modules/\n' });
    work = await tempDir();
    const root = join(work.path, 'experiments');
    outcome = await startRun({
      repo: target.path,
      flags: { agent: 'command', agentRun: 'echo $(( $(cat value.txt) - 1 )) > value.txt; mkdir -p .ratchet; echo "lower the score" > .ratchet/description', maxExperiments: 8 },
      experimentsRoot: root,
      runId: 'e2e-setup-inputs',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
    });
    const folder = join(root, 'e2e-setup-inputs');
    const experiments = (await readdir(folder)).filter((name) => /^e\d{4}$/.test(name)).sort();
    setupLogs = await Promise.all(experiments.map((name) => readFile(join(folder, name, 'setup.log'), 'utf8')));
  }, 240_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('keeps every candidate that lowers the score, each measured with setup’s outputs', () => {
    expect(outcome.stop.reason).toBe('budget');
    expect(outcome.summary).toMatchObject({ baseline: 10, best: { experiment: 'e0008', metric: 2 }, counts: { keep: 8 } });
  });

  it('runs setup once per worker worktree and reuses its outputs in every later experiment there', () => {
    expect(setupLogs).toHaveLength(9);
    const worktreeOf = (log: string): string | undefined => /\/ratchet\/eval\/[^/\s]+\/pool-\d+/.exec(log)?.[0];
    const ran = setupLogs.filter((log) => log.includes('setup in the candidate worktree ('));
    const reused = setupLogs.filter((log) => log.includes('setup reused: inputs unchanged (deps.lock): setup did not run'));
    expect(ran.length + reused.length).toBe(9);
    // A worker keeps its two most recent idle worktrees for their experiments and hands on the
    // others (git/eval-checkouts.ts, spare): setup runs in the first three, then is reused.
    expect([ran.length, reused.length]).toEqual([3, 6]);
    // Setup ran in as many worktrees as it ran times: never twice in one.
    const worktrees = new Set(setupLogs.map(worktreeOf));
    expect(worktrees.has(undefined)).toBe(false);
    expect(new Set(ran.map(worktreeOf)).size).toBe(ran.length);
    expect(worktrees.size).toBe(ran.length);
  });
});
