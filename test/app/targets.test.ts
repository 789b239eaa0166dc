import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bundledTargetNames, createFromTemplate } from '../../src/app/targets.js';
import { UserError } from '../../src/domain/errors.js';
import { git, tempDir, writeTree } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('target templates', () => {
  it('lists the bundled targets', async () => {
    expect(await bundledTargetNames()).toEqual(expect.arrayContaining(['autoresearch', 'circle-packing', 'sort-speed', 'tiny-lm']));
  });

  it('copies a bundled target into a new git repository with one commit', async () => {
    const work = await tempDir();
    cleanups.push(work.cleanup);
    const { dir } = await createFromTemplate('targets/sort-speed', join(work.path, 'sort'));
    expect(git(dir, 'log', '--oneline').split('\n')).toHaveLength(1);
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(await readFile(join(dir, 'ratchet.yaml'), 'utf8')).toContain('ops_per_sec');
  });

  it('refuses a folder that is not empty, and an unknown template, naming the bundled ones', async () => {
    const work = await tempDir();
    cleanups.push(work.cleanup);
    await writeTree(work.path, { 'keep.txt': 'mine\n' });
    await expect(createFromTemplate('tiny-lm', work.path)).rejects.toThrow(/is not empty/);
    const error = await createFromTemplate('no-such-target', join(work.path, 'x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).hint).toContain('tiny-lm');
  });
});
