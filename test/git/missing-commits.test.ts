/**
 * Which of a request's commits a repository lacks, against real git: a loose commit is read from
 * its object file, anything else is asked of git in one batch, and the answer is the same.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { missingCommits } from '../../src/git/eval-checkouts.js';
import { git, gitdir } from '../helpers/gitdir.js';
import { countGitSpawns } from './fixtures/git-spawns.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function repo(): Promise<{ path: string; gitDir: string; first: string; second: string; blob: string }> {
  const dir = await gitdir({ 'a.txt': 'a\n' });
  cleanups.push(dir.cleanup);
  const first = git(dir.path, 'rev-parse', 'HEAD');
  git(dir.path, 'commit', '-q', '--allow-empty', '-m', 'second');
  return { path: dir.path, gitDir: join(dir.path, '.git'), first, second: git(dir.path, 'rev-parse', 'HEAD'), blob: git(dir.path, 'rev-parse', 'HEAD:a.txt') };
}

const UNKNOWN = '0123456789abcdef0123456789abcdef01234567';

describe('missing commits', () => {
  it('finds loose commits without starting git', async () => {
    const r = await repo();
    const spawns = await countGitSpawns();
    try {
      expect(await missingCommits(r.gitDir, [r.first, r.second, r.first])).toEqual([]);
      expect(await spawns.take()).toEqual([]);
    } finally {
      await spawns.stop();
    }
  });

  it('finds packed commits, asking git once for all of them', async () => {
    const r = await repo();
    git(r.path, 'repack', '-adq');
    git(r.path, 'prune-packed');
    const spawns = await countGitSpawns();
    try {
      expect(await missingCommits(r.gitDir, [r.first, r.second])).toEqual([]);
      expect(await spawns.take()).toHaveLength(1);
    } finally {
      await spawns.stop();
    }
  });

  it('reports an unknown id, a blob, a tree and a name that is no id as missing, and only those', async () => {
    const r = await repo();
    const tree = git(r.path, 'rev-parse', 'HEAD^{tree}');
    const asked = [r.blob, r.first, UNKNOWN, tree, r.second, 'no such\nname'];
    expect(await missingCommits(r.gitDir, asked)).toEqual([r.blob, UNKNOWN, tree, 'no such\nname']);
  });

  it('reports them missing among packed commits too, in one git call', async () => {
    const r = await repo();
    git(r.path, 'repack', '-adq');
    git(r.path, 'prune-packed');
    const spawns = await countGitSpawns();
    try {
      expect(await missingCommits(r.gitDir, [r.first, r.blob, UNKNOWN, r.second])).toEqual([r.blob, UNKNOWN]);
      expect(await spawns.take()).toHaveLength(1);
    } finally {
      await spawns.stop();
    }
  });

  it('asks git about a commit whose loose file does not read as one', async () => {
    const r = await repo();
    git(r.path, 'repack', '-adq');
    // The commit is packed; a file where its loose object would be holds no commit.
    await mkdir(join(r.gitDir, 'objects', r.first.slice(0, 2)), { recursive: true });
    await writeFile(join(r.gitDir, 'objects', r.first.slice(0, 2), r.first.slice(2)), deflateSync('blob 2\0a\n'));
    const spawns = await countGitSpawns();
    try {
      expect(await missingCommits(r.gitDir, [r.first])).toEqual([]);
      expect(await spawns.take()).toHaveLength(1);
    } finally {
      await spawns.stop();
    }
  });

  it('reports every commit missing from a folder that is no repository', async () => {
    const r = await repo();
    const elsewhere = join(r.path, 'elsewhere');
    await mkdir(elsewhere);
    expect(await missingCommits(elsewhere, [r.first, r.second])).toEqual([r.first, r.second]);
  });
});
