/**
 * An agent that runs unconfined (a command agent with `sandbox: false`) and writes into the
 * user's checkout: put back and rejected, the change kept aside, the run going on.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import type { EventOf, RunEvent } from '../../src/domain/events.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget } from '../helpers/target.js';

// First proposal: a file in the checkout found by walking up from the worktree; second: a real gain; then done.
// Its steps are counted in the run folder (the prompt file's folder's parent), unconfined as it is.
const AGENT = [
  'steps="$(dirname "$(dirname "$RATCHET_PROMPT_FILE")")/agent-steps"',
  'if [ ! -e "$steps.one" ]; then : > "$steps.one"; top=$(git -C ../../../../.. rev-parse --show-toplevel); echo planted > "$top/planted.txt"; echo 9 > value.txt; echo "plant a file";',
  'elif [ ! -e "$steps.two" ]; then : > "$steps.two"; echo 8 > value.txt; echo "lower to 8";',
  'else mkdir -p .ratchet; echo "nothing left" > .ratchet/exhausted; fi',
].join('\n');

describe('an unconfined agent that writes into the user\'s checkout', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;
  const finished: EventOf<'experiment_finished'>[] = [];

  beforeAll(async () => {
    target = await makeTarget({ 'agent.sh': AGENT });
    work = await tempDir();
    const spec = `objective: lower\neditable: ["value.txt"]\nprotected: ["bench.sh", "agent.sh"]\nbench: { run: sh bench.sh, metric: { name: score, goal: minimize } }\nagent: { kind: command, run: "sh agent.sh", sandbox: false }\n`;
    await import('node:fs/promises').then((fs) => fs.writeFile(join(target.path, 'ratchet.yaml'), spec));
    git(target.path, 'commit', '-qam', 'spec');
    outcome = await startRun({
      repo: target.path,
      flags: {},
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'agent-checkout',
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

  it('rejects the proposal, naming the file, and leaves the checkout clean', async () => {
    expect(finished.find((e) => e.exp === 'e0001')).toMatchObject({ verdict: 'rejected', reason: 'the agent wrote planted.txt in your checkout (put back)' });
    expect(git(target.path, 'status', '--porcelain')).toBe('');
    expect(await readFile(join(outcome.summary.runDir, 'e0001', 'agent-checkout', 'planted.txt'), 'utf8')).toBe('planted\n');
  });

  it('goes on to keep a real gain', () => {
    expect(finished.find((e) => e.exp === 'e0002')).toMatchObject({ verdict: 'keep', metric: 8 });
    expect(outcome.stop.reason).toBe('exhausted');
  });
});
