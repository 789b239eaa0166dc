import { describe, expect, it } from 'vitest';
import { gateChange } from '../../src/plan/gate.js';
import type { CandidateCommit } from '../../src/domain/workspace.js';
import { symlinkProblem } from '../../src/plan/path-policy.js';
import { specSchema, type SpecInput } from '../../src/domain/spec.js';

const spec = (extra: Partial<SpecInput> = {}) =>
  specSchema.parse({ objective: 'x', editable: ['src/**', 'work.js'], protected: ['bench/**', 'test/**'], bench: { run: 'true', metric: { name: 'x', goal: 'minimize' } }, ...extra });

const change = (extra: Partial<CandidateCommit> = {}): CandidateCommit => ({
  commit: 'c0ffee',
  patch: 'diff',
  patchBytes: 4,
  files: ['src/a.js'],
  insertions: 1,
  deletions: 0,
  binary: [],
  symlinks: [],
  ...extra,
});

describe('the patch gate', () => {
  it('passes an editable change within the limits', () => {
    expect(gateChange(spec(), change())).toBeUndefined();
  });

  it('rejects a patch over limits.max_patch_bytes, saying both sizes', () => {
    expect(gateChange(spec(), change({ patch: undefined, patchBytes: 49 * 1024 * 1024 }))).toBe('the patch is 51 MB, more than limits.max_patch_bytes (5 MB)');
    expect(gateChange(spec({ limits: { max_patch_bytes: '64MB' } }), change({ patchBytes: 49 * 1024 * 1024 }))).toBeUndefined();
  });

  it.each([
    ['work.js', '/etc/passwd', 'adds a symlink work.js pointing outside the worktree (/etc/passwd)'],
    ['src/a.js', '../../x', 'adds a symlink src/a.js pointing outside the worktree (../../x)'],
    ['src/a.js', '../bench/run.js', 'adds a symlink src/a.js into protected path bench/run.js'],
    ['src/t', '../test', 'adds a symlink src/t into protected path test'],
    ['src/g', '../.git/config', "adds a symlink src/g pointing at the worktree's own .git"],
  ])('rejects a symlink %s → %s', (path, target, reason) => {
    expect(gateChange(spec(), change({ files: [path], symlinks: [{ path, target }] }))).toBe(reason);
  });

  it('lets a symlink to another editable file stay', () => {
    expect(symlinkProblem('src/b.js', 'a.js', ['bench/**'])).toBeUndefined();
    expect(gateChange(spec(), change({ files: ['src/b.js'], symlinks: [{ path: 'src/b.js', target: './a.js' }] }))).toBeUndefined();
  });

  it('refuses binary files only when limits.binary says so', () => {
    const binary = change({ files: ['src/a.bin', 'src/b.bin'], binary: ['src/a.bin', 'src/b.bin'] });
    expect(gateChange(spec(), binary)).toBeUndefined();
    expect(gateChange(spec({ limits: { binary: 'refuse' } }), binary)).toBe('adds or changes the binary file src/a.bin and 1 more; limits.binary is refuse');
  });

  it('names a protected path before a merely non-editable one', () => {
    expect(gateChange(spec(), change({ files: ['other.js', 'bench/run.js'] }))).toBe('touches protected path bench/run.js');
  });
});
