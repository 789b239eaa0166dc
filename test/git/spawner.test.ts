import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Spawner } from '../../src/git/spawner.js';
import { isAlive } from '../../src/util/process.js';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
const spawners: Spawner[] = [];
afterEach(() => {
  for (const s of spawners.splice(0)) s.close();
});

function spawner(): Spawner {
  const s = new Spawner(env);
  spawners.push(s);
  return s;
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  for (const end = Date.now() + withinMs; Date.now() < end; ) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !isAlive(pid);
}

describe('the helper that starts git', () => {
  it("gives back a command's exit code, stdout byte for byte, stderr and what it read on stdin", async () => {
    const s = spawner();
    const input = 'é\u0000line\n'.repeat(50_000);
    const copied = await s.run({ file: 'sh', args: ['-c', 'cat; echo oops >&2; exit 3'], cwd: '/', input });
    expect(copied.exitCode).toBe(3);
    expect(copied.stdout.equals(Buffer.from(input, 'utf8'))).toBe(true);
    expect(copied.stdoutBytes).toBe(Buffer.byteLength(input));
    expect(copied.stderr).toBe('oops\n');
    const bytes = await s.run({ file: 'sh', args: ['-c', 'printf "\\377\\000\\376"'], cwd: '/' });
    expect([...bytes.stdout]).toEqual([255, 0, 254]);
  });

  it('runs many commands at once, each answer to its own command, in its folder and with its own variables', async () => {
    const s = spawner();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => s.run({ file: 'sh', args: ['-c', 'sleep 0.0$((N % 3)); echo "$N $(pwd)"'], cwd: i % 2 === 0 ? '/' : '/tmp', env: { N: String(i) } })));
    expect(answers.map((a) => a.stdout.toString('utf8'))).toEqual(Array.from({ length: 40 }, (_, i) => `${i} ${i % 2 === 0 ? '/' : '/tmp'}\n`));
  });

  it('says a program that does not exist could not start, with its error code', async () => {
    const reply = await spawner().run({ file: 'no-such-program-ratchet', args: [], cwd: '/' });
    expect(reply).toMatchObject({ exitCode: undefined, errorCode: 'ENOENT' });
  });

  it('keeps stdout up to a separator whole and at most maxBytes after it, and counts every byte', async () => {
    const s = spawner();
    const script = 'printf "head\\000rest\\000\\000"; head -c 10000 /dev/zero | tr "\\0" x';
    const capped = await s.run({ file: 'sh', args: ['-c', script], cwd: '/', keepAfter: '0000', maxBytes: 100 });
    expect(capped.headBytes).toBe(11);
    expect(capped.stdout.subarray(0, 11).toString('latin1')).toBe('head\0rest\0\0');
    expect(capped.stdout.length).toBe(111);
    expect(capped.stdoutBytes).toBe(10_011);
    const never = await s.run({ file: 'sh', args: ['-c', 'printf "no separator"'], cwd: '/', keepAfter: '0000', maxBytes: 1 });
    expect(never).toMatchObject({ headBytes: -1, stdoutBytes: 12 });
    expect(never.stdout.toString('utf8')).toBe('no separator');
  });

  it('goes on through a Ctrl-C to the process group, and fails only the commands of a helper that died', async () => {
    const s = spawner();
    await s.run({ file: 'true', args: [], cwd: '/' });
    const first = s.pid!;
    process.kill(first, 'SIGINT');
    expect((await s.run({ file: 'echo', args: ['still here'], cwd: '/' })).stdout.toString('utf8')).toBe('still here\n');
    expect(s.pid).toBe(first);
    const running = s.run({ file: 'sleep', args: ['5'], cwd: '/' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(first, 'SIGKILL');
    const died = await running;
    expect(died.exitCode).toBeUndefined();
    expect(died.why).toMatch(/the helper that starts git exited/);
    expect((await s.run({ file: 'echo', args: ['anew'], cwd: '/' })).stdout.toString('utf8')).toBe('anew\n');
    expect(s.pid).not.toBe(first);
  });

  it('ends with the process that started it, killed or not, and never keeps it alive', async () => {
    const script = `
      import { Spawner } from ${JSON.stringify(new URL('../../src/git/spawner.ts', import.meta.url).pathname)};
      const s = new Spawner({ PATH: process.env.PATH });
      await s.run({ file: 'true', args: [], cwd: '/' });
      console.log(s.pid);
      if (process.argv[2] === 'hang') setInterval(() => {}, 1000);
    `;
    const run = (mode: string) => {
      const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', mode], { cwd: process.cwd() });
      return new Promise<{ pid: number; child: typeof child }>((resolve) => child.stdout!.once('data', (text: string) => resolve({ pid: Number(text.trim()), child })));
    };
    // Left alone, the script ends at once: the idle helper does not hold it.
    const started = Date.now();
    await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', 'exit'], { cwd: process.cwd() });
    expect(Date.now() - started).toBeLessThan(10_000);
    const { pid, child } = await run('hang');
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGKILL');
    expect(await gone(pid, 3000)).toBe(true);
  });
});
