import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/loop/run-loop.js';
import { measured } from '../../src/testing/evaluations.js';
import { fakeRun } from '../../src/testing/fake-run.js';

const never = new AbortController().signal;

describe('the scripted fakes', () => {
  it('fail a loop that asks for a proposal the script does not have', async () => {
    const f = fakeRun({ spec: { budget: { experiments: 1 } }, proposals: [], evaluations: { e0000: measured(100) } });
    await expect(runLoop(f.run, never)).rejects.toThrow('unexpected proposal for e0001: the script has no step left');
  });

  it('fail a loop that asks for an evaluation the script does not name', async () => {
    const f = fakeRun({
      spec: { budget: { experiments: 1 } },
      proposals: [{ kind: 'change', description: 'x', files: { 'a.js': '1' } }],
      evaluations: { e0000: measured(100) },
    });
    await expect(runLoop(f.run, never)).rejects.toThrow('no evaluation scripted for e0001');
  });

  it('refuse to move a ref that is no longer where the caller expects', async () => {
    const f = fakeRun({ proposals: [], evaluations: {} });
    f.workspace.refs.set('refs/heads/x', 'a'.repeat(40));
    await expect(f.workspace.updateRef('refs/heads/x', 'b'.repeat(40), 'c'.repeat(40))).rejects.toThrow(/is at a+, not c+/);
  });
});
