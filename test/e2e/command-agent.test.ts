import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { git, tempDir } from '../helpers/gitdir.js';
import { runCli } from '../helpers/cli.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget } from '../helpers/target.js';

describe('the command agent from the command line', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('runs from flags alone with --agent-run, and the run ends when the agent writes .ratchet/exhausted', async () => {
    const target = await makeTarget();
    const work = await tempDir();
    cleanups.push(target.cleanup, work.cleanup);
    git(target.path, 'rm', '-q', 'ratchet.yaml');
    git(target.path, 'commit', '-qm', 'no spec');
    // A stand-in for a coding-agent CLI: one idea, then nothing left. No budget: only the agent ends the run.
    const agent = [
      'mkdir -p .ratchet;',
      'if [ "$(cat value.txt)" = 9 ]; then echo "the score is as low as this agent gets it" > .ratchet/exhausted;',
      'else echo 9 > value.txt && echo "lower the score to 9" > .ratchet/description; fi',
    ].join(' ');
    const result = await runCli([
      'run', target.path,
      '--objective', 'lower the score', '--bench', 'sh bench.sh', '--metric', 'score', '--goal', 'minimize', '--editable', 'value.txt',
      '--agent-run', agent,
      '--experiments', join(work.path, 'experiments'), '--redis', `redis+unix://${testRedisSocket()}`, '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('uncommitted');
    const summary = JSON.parse(result.stdout) as { baseline: number; best: { metric: number }; counts: { keep: number }; experiments: number; stopped: { reason: string; detail: string } };
    expect(summary).toMatchObject({ baseline: 10, best: { metric: 9 }, counts: { keep: 1 }, experiments: 1 });
    expect(summary.stopped).toEqual({ reason: 'exhausted', detail: 'the agent has nothing left to try: the score is as low as this agent gets it' });
  }, 120_000);
});
