import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Worktree } from '../../src/domain/workspace.js';
import { git } from '../helpers/gitdir.js';
import { experimentRef, target, type Target } from './fixtures/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(): Promise<Target> {
  const t = await target();
  cleanups.push(t.cleanup);
  return t;
}

/** A candidate off `parent`: one worktree, these files written, committed. */
async function candidate(t: Target, n: number, parent: string, files: Record<string, string>, message: string): Promise<{ wt: Worktree; commit: string }> {
  const wt = await t.ws.createWorktree({ ref: experimentRef('run1', n), commit: parent, name: `e000${n}` });
  for (const [file, content] of Object.entries(files)) await writeFile(join(wt.path, file), content);
  const made = await t.ws.commitAll(wt, message);
  return { wt, commit: made!.commit };
}

describe('reapply', () => {
  it('re-applies a candidate on a newer best with a three-way merge: a new commit on top of it, same message, the ref moved', async () => {
    const t = await setUp();
    const kept = await candidate(t, 1, t.head, { 'src/util.js': 'export const id = (y) => y;\n' }, 'rename the argument');
    const stale = await candidate(t, 2, t.head, { 'src/sort.js': 'export const sort = (xs) => xs.toSorted((a, b) => a - b);\n' }, 'use toSorted');
    const re = await t.ws.reapply(stale.wt, stale.commit, kept.commit);
    expect(re.kind).toBe('applied');
    if (re.kind !== 'applied') return;
    expect(re.commit.files).toEqual(['src/sort.js']);
    expect(git(t.repo, 'rev-parse', `${re.commit.commit}^`)).toBe(kept.commit);
    expect(git(t.repo, 'log', '-1', '--format=%s', re.commit.commit)).toBe('use toSorted');
    expect(await t.ws.readRef(experimentRef('run1', 2))).toBe(re.commit.commit);
    // The worktree holds both changes, at the new commit.
    expect(await readFile(join(stale.wt.path, 'src/util.js'), 'utf8')).toBe('export const id = (y) => y;\n');
    expect(git(stale.wt.path, 'rev-parse', 'HEAD')).toBe(re.commit.commit);
    expect(git(stale.wt.path, 'status', '--porcelain')).toBe('');
  });

  it('reports the files that no longer merge as a conflict, and leaves the worktree clean at the new best', async () => {
    const t = await setUp();
    const kept = await candidate(t, 1, t.head, { 'src/sort.js': 'export const sort = (xs) => xs;\n' }, 'no sort');
    const stale = await candidate(t, 2, t.head, { 'src/sort.js': 'export const sort = (xs) => xs.toSorted();\n' }, 'toSorted');
    const re = await t.ws.reapply(stale.wt, stale.commit, kept.commit);
    expect(re).toEqual({ kind: 'conflict', files: ['src/sort.js'], reason: 'does not apply on the new best: src/sort.js conflict' });
    expect(git(stale.wt.path, 'rev-parse', 'HEAD')).toBe(kept.commit);
    expect(git(stale.wt.path, 'status', '--porcelain')).toBe('');
    expect(await t.ws.readRef(experimentRef('run1', 2))).toBe(stale.commit);
  });

  it('says when the new best already holds the whole change', async () => {
    const t = await setUp();
    const same = { 'src/util.js': 'export const id = (z) => z;\n' };
    const kept = await candidate(t, 1, t.head, same, 'z');
    const stale = await candidate(t, 2, t.head, same, 'z again');
    expect(await t.ws.reapply(stale.wt, stale.commit, kept.commit)).toEqual({ kind: 'empty' });
  });
});
