/** Without a sandbox, nothing a command starts outlives it either: the token sweep. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { PROCESS_TOKEN_VAR, sweepToken, tokenHolders } from '../../src/proc/process-tree.js';
import { tempDir } from '../helpers/gitdir.js';
import { processesRunning } from '../helpers/procs.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ratchet-tree-');
});
afterEach(async () => {
  await dir.cleanup();
});

const runner = new ExecaCommandRunner({ killGraceMs: 300 });
const run = (command: string, timeoutMs: number) => runner.run({ command, cwd: dir.path, timeoutMs, logFile: join(dir.path, 'cmd.log') });

describe('an unsandboxed command', () => {
  it('leaves no setsid or nohup child behind when it exits', async () => {
    const result = await run('setsid sh -c "sleep 3081" & nohup setsid sleep 3082 >/dev/null 2>&1 & echo started', 10_000);
    expect(result.exitCode).toBe(0);
    expect(await processesRunning('sleep 3081')).toEqual([]);
    expect(await processesRunning('sleep 3082')).toEqual([]);
  });

  it('is not held past its timeout by a child that keeps the output open', async () => {
    const started = Date.now();
    const result = await run('setsid sh -c "sleep 3083" & sleep 3084', 1_000);
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await processesRunning('sleep 3083')).toEqual([]);
  });

  it('ends at once when the shell exits though a detached child still holds stdout', async () => {
    const started = Date.now();
    const result = await run('setsid sh -c "sleep 3085" & echo done', 60_000);
    expect(result.output).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('the token sweep', () => {
  it('finds and kills every process carrying the token, and only those', async () => {
    const token = 'test-token-0123456789';
    const marked = spawn('sh', ['-c', 'setsid sleep 3086 & exec sleep 3087'], { env: { ...process.env, [PROCESS_TOKEN_VAR]: token }, detached: true, stdio: 'ignore' });
    const other = spawn('sleep', ['3088'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect((await tokenHolders(token)).length).toBe(2);
      expect(await sweepToken(token)).toBe(2);
      expect(await tokenHolders(token)).toEqual([]);
      expect(await processesRunning('sleep 3088')).toEqual([other.pid]);
    } finally {
      marked.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});
