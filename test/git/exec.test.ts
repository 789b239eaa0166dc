/**
 * The one way ratchet runs git (src/git/exec.ts), against the real binary: output as git printed
 * it less the last line end, input on stdin, a failure as data or as an error that carries git's
 * own message, and a git that cannot run at all told apart from a folder that is not there.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { git, gitBytes, resetGitEnv } from '../../src/git/exec.js';
import { tempDir } from '../helpers/gitdir.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ratchet-exec-');
  await git(['init', '--quiet', dir.path], { cwd: dir.path });
});
afterEach(async () => {
  await dir.cleanup();
});

describe('git()', () => {
  it("returns git's output without its last line end, and feeds it input", async () => {
    const hashed = await git(['hash-object', '--stdin'], { cwd: dir.path, input: 'hello\n' });
    expect(hashed).toEqual({ exitCode: 0, stdout: 'ce013625030ba8dba906f756967f9e9ca394464a', stderr: '' });
  });

  it('keeps the bytes of the output as they are with gitBytes', async () => {
    const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: dir.path, input: 'a\r\n\n' })).stdout;
    expect(Buffer.from(await gitBytes(['cat-file', 'blob', blob], { cwd: dir.path })).toString('utf8')).toBe('a\r\n\n');
  });

  it("returns a failure as data when allowed, and otherwise throws with git's message", async () => {
    const failed = await git(['rev-parse', '--verify', '--quiet', 'no-such-ref'], { cwd: dir.path, allowFailure: true });
    expect(failed.exitCode).toBe(1);
    await expect(git(['cat-file', '-t', 'f'.repeat(40)], { cwd: dir.path })).rejects.toThrow(/git cat-file -t f+ failed in .*: fatal: /);
  });

  it('never looks for a repository above the folder it runs in', async () => {
    const inner = join(dir.path, 'inner');
    await mkdir(inner);
    const result = await git(['rev-parse', '--git-dir'], { cwd: inner, allowFailure: true });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/not a git repository/);
  });

  it('tells a git that is not on PATH (install git) from a folder that does not exist', async () => {
    await expect(git(['status'], { cwd: join(dir.path, 'gone') })).rejects.toThrow(/could not run in .*gone/);
    const saved = process.env['PATH'];
    process.env['PATH'] = join(dir.path, 'empty-bin');
    resetGitEnv(); // git's environment is a copy of process.env made once
    try {
      const error = await git(['status'], { cwd: dir.path }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toBe('git is not installed or not on PATH');
    } finally {
      process.env['PATH'] = saved;
      resetGitEnv();
    }
  });
});
