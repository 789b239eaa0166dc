/** limits.memory and limits.cpu on a real cgroup (this machine and CI run as root). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupRoots, limitCommand } from '../../src/proc/limits.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { tempDir } from '../helpers/gitdir.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ratchet-limits-');
});
afterEach(async () => {
  await dir.cleanup();
});

const runner = new ExecaCommandRunner();
// Grows an array by 10 MB at a time and says how far it got.
const hog = `node -e "const a=[]; for (let i=1;i<=40;i++){ a.push(Buffer.alloc(10*1024*1024,1)); console.log(i*10) }"`;

describe('resource limits', () => {
  it('finds a cgroup it can use on this machine', async () => {
    const roots = await cgroupRoots();
    expect(roots?.memory).toBeDefined();
  });

  it('stops a command that uses more memory than limits.memory, in the sandbox and out of it', async () => {
    for (const mode of ['none', 'bwrap'] as const) {
      const result = await runner.run({
        command: hog,
        cwd: dir.path,
        timeoutMs: 30_000,
        logFile: join(dir.path, `${mode}.log`),
        limits: { memoryBytes: 150 * 1000 * 1000 },
        sandbox: { mode, mounts: [{ kind: 'rw', path: dir.path }], network: false },
      });
      expect(result.exitCode, mode).not.toBe(0);
      const reached = Math.max(...result.output.split('\n').map(Number).filter(Number.isFinite));
      expect(reached, mode).toBeLessThan(400);
    }
    const free = await runner.run({ command: hog, cwd: dir.path, timeoutMs: 30_000, logFile: join(dir.path, 'free.log') });
    expect(free.exitCode).toBe(0);
  });

  it('puts the whole process tree in one cgroup with the cpu quota, and removes it afterwards', async () => {
    const limited = await limitCommand('true', { cpus: 0.5, memoryBytes: 512 * 1000 * 1000 });
    expect(limited.procs.length).toBeGreaterThan(0);
    const result = await runner.run({ command: 'cat /proc/self/cgroup; sh -c "cat /proc/self/cgroup"', cwd: dir.path, timeoutMs: 10_000, logFile: join(dir.path, 'cg.log'), limits: { cpus: 0.5 } });
    const groups = result.output.split('\n').filter((l) => /:cpu[,:]|^0::/.test(l) && l.includes('ratchet-'));
    expect(groups).toHaveLength(2);
    expect(groups[0]).toBe(groups[1]);
    await limited.release();
    const path = (groups[0] ?? '').split(':')[2] ?? '';
    await expect(readFile(join('/sys/fs/cgroup/cpu', path, 'cpu.cfs_quota_us'))).rejects.toThrow(/ENOENT/);
  });
});
