/**
 * Without the sandbox, a child that leaves the process group and clears its environment
 * (`env -i setsid …`) escapes both the group kill and the token sweep. The command's cgroup
 * (where the machine lets ratchet make one) still ends it; and holding the output pipe must
 * never keep the command from ending.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { tempDir } from '../helpers/gitdir.js';
import { processesWith } from '../helpers/hostile.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A sleep no other process on the machine has, killed by pid when the test ends. */
function uniqueSleep(): string {
  const seconds = `${20 + (randomBytes(2).readUInt16BE() % 1000)}.${randomBytes(2).readUInt16BE()}`;
  cleanups.push(async () => {
    for (const pid of await processesWith(`sleep ${seconds}`)) process.kill(pid, 'SIGKILL');
  });
  return seconds;
}

async function folder(): Promise<string> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return dir.path;
}

it('ends a timed-out command soon after its timeout while an escaped child holds stdout', async () => {
  const dir = await folder();
  const result = await new ExecaCommandRunner().run({ command: `echo before; env -i setsid sleep ${uniqueSleep()} & sleep 30`, cwd: dir, timeoutMs: 1000, logFile: join(dir, 'log') });
  expect(result.timedOut).toBe(true);
  expect(result.durationMs).toBeLessThan(5000);
  expect(result.output).toBe('before\n');
  expect(await readFile(join(dir, 'log'), 'utf8')).toContain('timed out after 1s');
});

it('ends a command that exited at once while an escaped child holds stdout, with its exit code and output', async () => {
  const dir = await folder();
  const result = await new ExecaCommandRunner().run({ command: `env -i setsid sleep ${uniqueSleep()} & echo out; echo err >&2; exit 3`, cwd: dir, timeoutMs: 30_000, logFile: join(dir, 'log') });
  expect(result.timedOut).toBe(false);
  expect(result.exitCode).toBe(3);
  expect(result.durationMs).toBeLessThan(5000);
  expect(result.output).toBe('out\nerr\n');
});

it('still reads all the output a command wrote just before it exited', async () => {
  const dir = await folder();
  const result = await new ExecaCommandRunner().run({ command: 'head -c 3000000 /dev/zero | tr "\\0" y; echo; echo last-line', cwd: dir, timeoutMs: 30_000, logFile: join(dir, 'log') });
  expect(result.exitCode).toBe(0);
  expect(result.output.endsWith('y\nlast-line\n')).toBe(true);
  expect((await readFile(join(dir, 'log'), 'utf8')).length).toBeGreaterThan(3_000_000);
});

it('kills an escaped child too, through the command\'s cgroup, where the machine gives one', async () => {
  const dir = await folder();
  const seconds = uniqueSleep();
  const result = await new ExecaCommandRunner().run({ command: `env -i setsid sleep ${seconds} & echo started`, cwd: dir, timeoutMs: 30_000, logFile: join(dir, 'log') });
  expect(result.exitCode).toBe(0);
  expect(await processesWith(`sleep ${seconds}`)).toEqual([]);
});
