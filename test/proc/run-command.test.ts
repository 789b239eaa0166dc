import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { childEnv, isAllowed } from '../../src/proc/env.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { tempDir } from '../helpers/gitdir.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Alive and not a zombie (an orphan killed here may wait a while for init to reap it). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

async function pidsIn(file: string): Promise<number[]> {
  const text = await readFile(file, 'utf8');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** Writes the shell's pid, a background sleep's and a foreground sleep's to `file`, then waits. */
const twoSleeps = (file: string): string => `echo $$ > ${file}; sleep 100 & echo $! >> ${file}; sh -c 'echo $$ >> ${file}; exec sleep 100'`;

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ratchet-proc-');
});
afterEach(async () => {
  await dir.cleanup();
});

describe('ExecaCommandRunner', () => {
  const runner = new ExecaCommandRunner({ killGraceMs: 500 });
  const base = () => ({ cwd: dir.path, timeoutMs: 10_000, logFile: join(dir.path, 'logs', 'cmd.log') });

  it('streams stdout and stderr in arrival order to the log between a header and a footer', async () => {
    const result = await runner.run({ ...base(), command: 'echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; exit 3' });
    expect(result).toMatchObject({ exitCode: 3, signal: undefined, timedOut: false, aborted: false, truncated: false });
    expect(result.output).toBe('one\ntwo\nthree\n');
    const log = await readFile(base().logFile, 'utf8');
    expect(log).toMatch(/^\[ratchet\] \d{4}-\d\d-\d\dT.* in .*\n\$ echo one; .*exit 3\none\ntwo\nthree\n\[ratchet\] exit 3 \(\d+ms\)\n$/);
  });

  it('appends to an existing log', async () => {
    await writeFile(join(dir.path, 'cmd.log'), 'before\n');
    await runner.run({ ...base(), logFile: join(dir.path, 'cmd.log'), command: 'echo after' });
    const log = await readFile(join(dir.path, 'cmd.log'), 'utf8');
    expect(log.startsWith('before\n[ratchet]')).toBe(true);
    expect(log).toContain('\nafter\n');
  });

  it('kills the whole process group on timeout and leaves no process behind', async () => {
    const pidFile = join(dir.path, 'pids');
    const result = await runner.run({ ...base(), timeoutMs: 1000, command: twoSleeps(pidFile) });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeUndefined();
    expect(result.durationMs).toBeLessThan(5000);
    const pids = await pidsIn(pidFile);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(await alive(pid)).toBe(false);
    expect(await readFile(base().logFile, 'utf8')).toContain('[ratchet] timed out after 1s, process group killed');
  });

  it('escalates to SIGKILL for processes that ignore SIGTERM', async () => {
    const pidFile = join(dir.path, 'pids');
    const command = `trap '' TERM; echo $$ > ${pidFile}; sh -c 'trap "" TERM; echo $$ >> ${pidFile}; while :; do sleep 0.1; done'`;
    const result = await runner.run({ ...base(), timeoutMs: 500, command });
    expect(result.timedOut).toBe(true);
    for (const pid of await pidsIn(pidFile)) expect(await alive(pid)).toBe(false);
  });

  it('kills the group when the signal aborts, and says it was aborted', async () => {
    const pidFile = join(dir.path, 'pids');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await runner.run({ ...base(), command: twoSleeps(pidFile), signal: controller.signal });
    expect(result).toMatchObject({ aborted: true, timedOut: false, exitCode: undefined });
    for (const pid of await pidsIn(pidFile)) expect(await alive(pid)).toBe(false);
  });

  it('does not start a command whose signal is already aborted', async () => {
    const marker = join(dir.path, 'ran');
    const result = await runner.run({ ...base(), command: `touch ${marker}`, signal: AbortSignal.abort() });
    expect(result.aborted).toBe(true);
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  });

  it('stops what the shell left running in the background once it exits', async () => {
    const pidFile = join(dir.path, 'pids');
    const result = await runner.run({ ...base(), command: `sleep 100 & echo $! > ${pidFile}; echo done` });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, output: 'done\n' });
    expect(result.durationMs).toBeLessThan(5000);
    for (const pid of await pidsIn(pidFile)) expect(await alive(pid)).toBe(false);
  });

  it('caps the log with one marker, keeps draining the pipe, and keeps the tail of the output', async () => {
    // 2 MB of output against a 1 KiB log and a 100-byte capture.
    const command = `i=0; while [ $i -lt 2000 ]; do printf '%01000d\\n' $i; i=$((i+1)); done; echo LAST`;
    const result = await runner.run({ ...base(), command, maxLogBytes: 1024, captureBytes: 100 });
    expect(result.exitCode).toBe(0);
    expect(result.truncated).toBe(true);
    expect(result.output.length).toBeLessThanOrEqual(100);
    expect(result.output.endsWith('1999\nLAST\n')).toBe(true);
    const log = await readFile(base().logFile, 'utf8');
    expect(log.match(/\[ratchet: log truncated at 1024 bytes\]/g)).toHaveLength(1);
    expect(log.length).toBeLessThan(1024 + 400);
    expect(log).not.toMatch(/^LAST$/m);
    expect(log).toMatch(/\[ratchet\] exit 0 /);
  });

  it('ignores stdin', async () => {
    const result = await runner.run({ ...base(), timeoutMs: 3000, command: 'cat; echo read-nothing' });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, output: 'read-nothing\n' });
  });

  it('reports a command that cannot start instead of throwing', async () => {
    const result = await runner.run({ ...base(), cwd: join(dir.path, 'missing'), command: 'true' });
    expect(result.exitCode).toBeUndefined();
    expect(result.output).toMatch(/missing/);
    expect(await readFile(base().logFile, 'utf8')).toContain('[ratchet] could not start');
  });

  it('throws a UserError when the log cannot be written', async () => {
    await writeFile(join(dir.path, 'file'), '');
    await expect(runner.run({ ...base(), logFile: join(dir.path, 'file', 'cmd.log'), command: 'true' })).rejects.toBeInstanceOf(UserError);
  });

  it('passes only allowlisted variables, allowEnv names and explicit env to the command', async () => {
    const envRunner = new ExecaCommandRunner({
      baseEnv: { PATH: process.env.PATH, HOME: '/home/x', LC_ALL: 'C', ANTHROPIC_API_KEY: 'secret', REDIS_URL: 'redis://x', AWS_SECRET_ACCESS_KEY: 'k', CUDA_VISIBLE_DEVICES: '0', MY_FLAG: '1' },
    });
    const result = await envRunner.run({ ...base(), command: 'env | sort', allowEnv: ['CUDA_*'], env: { RATCHET_RUN: 'r1' } });
    const names = result.output.split('\n').filter(Boolean).map((line) => line.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'LC_ALL', 'CUDA_VISIBLE_DEVICES', 'RATCHET_RUN']));
    expect(names).not.toContain('ANTHROPIC_API_KEY');
    expect(names).not.toContain('REDIS_URL');
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(names).not.toContain('MY_FLAG');
  });

  it('kills running process groups when the ratchet process exits', async () => {
    const pidFile = join(dir.path, 'pids');
    const script = join(dir.path, 'dies.mts');
    await writeFile(
      script,
      [
        `import { ExecaCommandRunner } from ${JSON.stringify(join(repoRoot, 'src/proc/run-command.ts'))};`,
        `import { existsSync, readFileSync } from 'node:fs';`,
        `const runner = new ExecaCommandRunner();`,
        `void runner.run({ command: ${JSON.stringify(twoSleeps(pidFile))}, cwd: ${JSON.stringify(dir.path)}, timeoutMs: 60_000, logFile: ${JSON.stringify(join(dir.path, 'x.log'))} });`,
        `const started = () => existsSync(${JSON.stringify(pidFile)}) && readFileSync(${JSON.stringify(pidFile)}, 'utf8').trim().split('\\n').length === 3;`,
        `const wait = setInterval(() => { if (started()) { clearInterval(wait); process.exit(0); } }, 20);`,
      ].join('\n'),
    );
    await promisify(execFile)(join(repoRoot, 'node_modules/.bin/tsx'), [script], { cwd: repoRoot, timeout: 30_000 });
    const pids = await pidsIn(pidFile);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(await alive(pid)).toBe(false);
  });
});

describe('childEnv', () => {
  const source = { PATH: '/bin', HOME: '/h', USER: 'u', LOGNAME: 'u', SHELL: '/bin/sh', LANG: 'C.UTF-8', LC_CTYPE: 'C', TERM: 'xterm', TMPDIR: '/t', TZ: 'UTC', ANTHROPIC_API_KEY: 'k', REDIS_URL: 'r', AWS_REGION: 'eu', AWS_SECRET_ACCESS_KEY: 's', NODE_OPTIONS: '--inspect', OMP_NUM_THREADS: '4' };

  it('always passes the base variables and nothing else by default', () => {
    expect(Object.keys(childEnv(source)).sort()).toEqual(['HOME', 'LANG', 'LC_CTYPE', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'TMPDIR', 'TZ', 'USER']);
  });

  it('lets through exact allowEnv names and PREFIX* patterns', () => {
    const env = childEnv(source, { allowEnv: ['OMP_NUM_THREADS', 'AWS_REG*'] });
    expect(env.OMP_NUM_THREADS).toBe('4');
    expect(env.AWS_REGION).toBe('eu');
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it('sets explicit variables on top, even over allowlisted ones', () => {
    const env = childEnv(source, { env: { RATCHET_RUN: 'r', TZ: 'Europe/Paris' } });
    expect(env).toMatchObject({ RATCHET_RUN: 'r', TZ: 'Europe/Paris' });
    expect(env.ANTHROPIC_API_KEY).toBeUndefined();
  });

  it.each([
    ['PATH', ['PATH'], true],
    ['PATHS', ['PATH'], false],
    ['LC_ALL', ['LC_*'], true],
    ['LC', ['LC_*'], false],
    ['XLC_ALL', ['LC_*'], false],
  ] as const)('matches %s against %j: %s', (name, patterns, expected) => {
    expect(isAllowed(name, patterns)).toBe(expected);
  });
});
