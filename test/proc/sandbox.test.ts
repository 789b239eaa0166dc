/**
 * The bubblewrap sandbox, for real: what a command inside it can see, write and reach.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxRequest } from '../../src/domain/command-runner.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { bwrapArgs, readSandboxHost, toolchainDirs } from '../../src/proc/sandbox.js';
import { createRedactor } from '../../src/util/redact.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';
import { processesRunning } from '../helpers/procs.js';

let repo: { path: string; cleanup: () => Promise<void> };
let work: { path: string; cleanup: () => Promise<void> };
let worktree: string;
let gitDir: string;
let homeMarker: string;
let listener: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  repo = await gitdir({ 'bench.js': 'console.log("METRIC x=1")\n', 'src/work.js': 'module.exports = 1;\n' });
  work = await tempDir('ratchet-sandbox-');
  gitDir = join(repo.path, '.git');
  worktree = join(gitDir, 'ratchet', 'worktrees', 'run', 'e0001');
  await mkdir(join(gitDir, 'ratchet', 'worktrees', 'run'), { recursive: true });
  git(repo.path, 'worktree', 'add', '--quiet', '--detach', worktree, 'HEAD');
  git(repo.path, 'worktree', 'add', '--quiet', '--detach', join(gitDir, 'ratchet', 'worktrees', 'run', 'e0002'), 'HEAD');
  homeMarker = join(homedir(), `.ratchet-sandbox-test-${process.pid}`);
  await writeFile(homeMarker, 'private\n');
  listener = createServer((socket) => {
    connections++;
    socket.end();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
});

afterAll(async () => {
  listener.close();
  await import('node:fs/promises').then((fs) => fs.rm(homeMarker, { force: true }));
  await repo.cleanup();
  await work.cleanup();
});

const runner = new ExecaCommandRunner({ killGraceMs: 300 });

function sandbox(overrides: Partial<SandboxRequest> = {}): SandboxRequest {
  return {
    mode: 'bwrap',
    network: false,
    mounts: [
      { kind: 'ro', path: gitDir },
      { kind: 'hide', path: join(gitDir, 'ratchet') },
      { kind: 'rw', path: worktree },
      { kind: 'ro', path: join(worktree, '.git') },
      { kind: 'ro', path: join(worktree, 'bench.js') },
    ],
    ...overrides,
  };
}

async function run(command: string, options: { sandbox?: SandboxRequest; timeoutMs?: number; env?: Record<string, string> } = {}) {
  return runner.run({
    command,
    cwd: worktree,
    timeoutMs: options.timeoutMs ?? 20_000,
    logFile: join(work.path, 'logs', 'cmd.log'),
    sandbox: options.sandbox ?? sandbox(),
    ...(options.env ? { env: options.env } : {}),
  });
}

describe('the bubblewrap sandbox', () => {
  it('runs the command in the worktree, marked as sandboxed', async () => {
    const result = await run('pwd; node -e "console.log(require(\'./src/work.js\'))"');
    expect(result).toMatchObject({ exitCode: 0, sandboxed: true });
    expect(result.output).toBe(`${worktree}\n1\n`);
  });

  it('lets the command write its worktree, and nothing else', async () => {
    const attempt = (path: string, label: string): string => `(echo x > ${path}) 2>/dev/null && echo ${label}`;
    const result = await run(
      [
        'echo ok > made.txt',
        attempt(join(gitDir, 'refs', 'heads', 'evil'), 'wrote-refs'),
        attempt('bench.js', 'wrote-protected'),
        '(rm .git) 2>/dev/null && echo removed-link',
        // Paths outside the mounts land in the sandbox's own private folders, never on the host.
        attempt(join(repo.path, 'escaped.txt'), 'wrote-private-copy'),
        'true',
      ].join('; '),
    );
    expect(result.exitCode).toBe(0);
    expect(result.output).not.toMatch(/wrote-refs|wrote-protected|removed-link/);
    expect(await readFile(join(worktree, 'made.txt'), 'utf8')).toBe('ok\n');
    await expect(readFile(join(repo.path, 'escaped.txt'))).rejects.toThrow(/ENOENT/);
    expect(git(repo.path, 'for-each-ref', 'refs/heads/evil')).toBe('');
    expect(await readFile(join(worktree, 'bench.js'), 'utf8')).toBe('console.log("METRIC x=1")\n');
    expect(git(worktree, 'rev-parse', 'HEAD')).toBe(git(repo.path, 'rev-parse', 'HEAD'));
  });

  it('shows the git data read-only, without the other worktrees', async () => {
    const result = await run('git rev-parse HEAD && ls ' + join(gitDir, 'ratchet') + ' | wc -l && git update-ref refs/heads/x HEAD 2>&1 | grep -c "Read-only"');
    expect(result.output.split('\n').slice(0, 3)).toEqual([git(repo.path, 'rev-parse', 'HEAD'), '1', '1']);
  });

  it('gives a private HOME and /tmp, without the user\'s files', async () => {
    await writeFile(join(work.path, 'tmp-marker'), 'host\n');
    const result = await run(`cat ${homeMarker} 2>/dev/null || echo no-marker; echo x > "$HOME/h" && echo home-writable; cat ${join(work.path, 'tmp-marker')} 2>/dev/null || echo no-tmp-marker`);
    expect(result.output).toBe('no-marker\nhome-writable\nno-tmp-marker\n');
    await expect(readFile(join(homedir(), 'h'))).rejects.toThrow(/ENOENT/);
  });

  it('has no network: a listener on 127.0.0.1 is never reached', async () => {
    const before = connections;
    const probe = `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => console.log('connected')).on('error', (e) => console.log(e.code))"`;
    const result = await run(probe);
    expect(result.output.trim()).toMatch(/ECONNREFUSED|ENETUNREACH/);
    expect(connections).toBe(before);
    const open = await run(probe, { sandbox: sandbox({ network: true }) });
    expect(open.output.trim()).toBe('connected');
  });

  it("cannot see ratchet's processes or read its environment", async () => {
    const result = await run(`ls /proc | grep -c '^[0-9]'; cat /proc/${process.pid}/environ 2>/dev/null | tr '\\0' '\\n' | grep -c RATCHET_KEY || true`);
    const [count, leaked] = result.output.trim().split('\n').map(Number);
    expect(count).toBeLessThan(10);
    expect(leaked ?? 0).toBe(0);
  });

  it('hides the system secrets /etc still holds', async () => {
    const result = await run('cat /etc/shadow 2>/dev/null | wc -c; ls /etc/ssh 2>/dev/null | wc -l; cat /etc/hostname >/dev/null 2>&1; echo done');
    expect(result.output).toBe('0\n0\ndone\n');
  });

  it('ends every process of the command with it, even one that keeps the output open', async () => {
    const started = Date.now();
    const result = await run('setsid sh -c "sleep 3093" & nohup sleep 3094 & echo spawned', { timeoutMs: 30_000 });
    expect(result.output).toContain('spawned');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await processesRunning('sleep 3093')).toEqual([]);
    expect(await processesRunning('sleep 3094')).toEqual([]);
  });

  it('dies with ratchet when ratchet is killed outright', async () => {
    const script = join(work.path, 'killed.mts');
    const runCommand = join(process.cwd(), 'src/proc/run-command.ts');
    await writeFile(
      script,
      [
        `import { ExecaCommandRunner } from ${JSON.stringify(runCommand)};`,
        `const runner = new ExecaCommandRunner();`,
        `void runner.run({ command: 'sleep 3097 & sleep 3098', cwd: ${JSON.stringify(worktree)}, timeoutMs: 60_000, logFile: ${JSON.stringify(join(work.path, 'killed.log'))}, sandbox: ${JSON.stringify(sandbox())} });`,
        `setInterval(() => undefined, 1000);`,
      ].join('\n'),
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), [script], { stdio: 'ignore' });
    for (let i = 0; i < 100 && (await processesRunning('sleep 3098')).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await processesRunning('sleep 3098')).toHaveLength(1);
    // tsx runs the script in a child node; kill the whole tree outright, as a crash would.
    const { execFileSync } = await import('node:child_process');
    execFileSync('pkill', ['-KILL', '-f', script]);
    child.kill('SIGKILL');
    for (let i = 0; i < 50 && (await processesRunning('sleep 3098')).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await processesRunning('sleep 3097')).toEqual([]);
    expect(await processesRunning('sleep 3098')).toEqual([]);
  });

  it('stops a command at its timeout, the whole namespace with it', async () => {
    const started = Date.now();
    const result = await run('sleep 3095 & sleep 3096', { timeoutMs: 1_000 });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await processesRunning('sleep 3095')).toEqual([]);
  });

  it('says why it could not start when bwrap was asked for and does not work', async () => {
    const broken = new ExecaCommandRunner({ probe: () => Promise.resolve({ ok: false, reason: 'bwrap is not installed' }) });
    const result = await broken.run({ command: 'echo ran', cwd: worktree, timeoutMs: 5_000, logFile: join(work.path, 'logs', 'broken.log'), sandbox: sandbox() });
    expect(result.exitCode).toBeUndefined();
    expect(result.output).toBe('sandbox: bwrap was asked for, but bwrap is not installed\n');
    const auto = await broken.run({ command: 'echo ran', cwd: worktree, timeoutMs: 5_000, logFile: join(work.path, 'logs', 'broken.log'), sandbox: sandbox({ mode: 'auto' }) });
    expect(auto).toMatchObject({ exitCode: 0, output: 'ran\n', sandboxed: false });
  });

  it('redacts secrets from what the command prints, in the log and the captured output', async () => {
    const secret = 'sk-ant-test-0123456789abcdef';
    const redacting = new ExecaCommandRunner({ redactor: createRedactor([{ name: 'ANTHROPIC_API_KEY', value: secret }]) });
    const log = join(work.path, 'logs', 'redacted.log');
    // Printed in two halves, so the secret crosses a chunk boundary.
    const result = await redacting.run({ command: `printf 'key=${secret.slice(0, 9)}'; sleep 0.2; printf '${secret.slice(9)} end\\n'`, cwd: worktree, timeoutMs: 5_000, logFile: log, sandbox: sandbox() });
    expect(result.output).toBe('key=[redacted ANTHROPIC_API_KEY] end\n');
    expect(await readFile(log, 'utf8')).not.toContain(secret.slice(4));
  });
});

describe('the sandbox arguments', () => {
  const host = { system: [{ path: '/usr' }, { path: '/bin', link: 'usr/bin' }], home: '/home/u', toolchain: ['/home/u/.nvm'], hiddenFiles: ['/etc/shadow'], hiddenDirs: [] };

  it('unshares everything but the network only when asked, and drops capabilities', () => {
    const args = bwrapArgs(host, { mode: 'bwrap', mounts: [], network: false }, '/w', 'true');
    for (const flag of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--new-session', '--die-with-parent']) expect(args).toContain(flag);
    expect(args.join(' ')).toContain('--cap-drop ALL');
    expect(bwrapArgs(host, { mode: 'bwrap', mounts: [], network: true }, '/w', 'true')).not.toContain('--unshare-net');
  });

  it('puts a private HOME before the toolchain in it and the caller\'s mounts after both', () => {
    const args = bwrapArgs(host, { mode: 'bwrap', mounts: [{ kind: 'rw', path: '/home/u/repo/wt' }], network: false }, '/home/u/repo/wt', 'true').join(' ');
    expect(args.indexOf('--tmpfs /home/u')).toBeLessThan(args.indexOf('--ro-bind /home/u/.nvm /home/u/.nvm'));
    expect(args.indexOf('--ro-bind /home/u/.nvm')).toBeLessThan(args.indexOf('--bind /home/u/repo/wt /home/u/repo/wt'));
    expect(args).toContain('--symlink usr/bin /bin');
    expect(args).toContain('--ro-bind /dev/null /etc/shadow');
    expect(args.endsWith('--chdir /home/u/repo/wt --setenv TMPDIR /tmp -- sh -c true')).toBe(true);
  });

  it('takes toolchains from PATH: a whole one in HOME, but never a folder of credentials', async () => {
    const home = await tempDir('ratchet-home-');
    try {
      for (const dir of ['.nvm/versions/node/bin', '.cargo/bin', '.rustup', '.config/tool/bin', '.local/bin', '.local/lib', 'bin']) await mkdir(join(home.path, dir), { recursive: true });
      const path = ['/usr/bin', `${home.path}/.nvm/versions/node/bin`, `${home.path}/.cargo/bin`, `${home.path}/.config/tool/bin`, `${home.path}/.local/bin`, `${home.path}/bin`, 'relative/bin'].join(':');
      expect(toolchainDirs(path, home.path)).toEqual(
        [`${home.path}/.cargo`, `${home.path}/.config/tool/bin`, `${home.path}/.local/bin`, `${home.path}/.local/lib`, `${home.path}/.nvm`, `${home.path}/.rustup`, `${home.path}/bin`].sort(),
      );
    } finally {
      await home.cleanup();
    }
  });

  it('reads the host: the system folders that exist, and which secrets to cover', () => {
    const host = readSandboxHost({ PATH: '/usr/bin', HOME: '/root' });
    expect(host.system.map((d) => d.path)).toContain('/usr');
    expect(host.hiddenFiles).toContain('/etc/shadow');
  });
});
