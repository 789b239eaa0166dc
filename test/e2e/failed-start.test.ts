/** A run that cannot start leaves nothing behind that `ls` would show as running or crashed. */
import { symlink, readdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { makeTarget, replaceLinePatch, writePatches } from '../helpers/target.js';

describe('a run that fails to start', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    target = await makeTarget();
    work = await tempDir();
    env = { RATCHET_STATE_DIR: join(work.path, 'state') };
    await writePatches(join(work.path, 'patches'), { '01.patch': replaceLinePatch('value.txt', '10', '8', 'lower') });
  });
  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  async function expectNoRun(experiments: string): Promise<void> {
    expect(await readdir(experiments).catch(() => [])).toEqual([]);
    const ls = await runCli(['ls', '--json'], { cwd: work.path, env });
    expect(JSON.parse(ls.stdout)).toEqual([]);
    expect(git(target.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  }

  it('leaves no run folder when Redis is unreachable', async () => {
    const experiments = join(work.path, 'unreachable');
    const result = await runCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments, '--redis', 'redis://127.0.0.1:1'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ratchet: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED');
    await expectNoRun(experiments);
  }, 60_000);

  it('leaves no run folder when redis-server is not installed', async () => {
    // A PATH with git, sh and bubblewrap, and no redis-server.
    const bin = join(work.path, 'bin');
    execFileSync('mkdir', [bin]);
    for (const tool of ['git', 'sh', 'bwrap']) {
      const found = execFileSync('sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
      if (found !== '') await symlink(found, join(bin, tool));
    }
    const experiments = join(work.path, 'no-server');
    const result = await runCli(['run', target.path, '--agent', 'replay', '--patches', join(work.path, 'patches'), '--experiments', experiments], { env: { ...env, PATH: bin, REDIS_URL: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ratchet: cannot start redis-server: it is not installed or not on PATH');
    await expectNoRun(experiments);
  }, 60_000);
});
