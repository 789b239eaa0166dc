import { describe, expect, it } from 'vitest';
import { checkPaths, globRoots, isEditable, matchesAny } from '../../src/plan/path-policy.js';

describe('matchesAny', () => {
  it('matches dot files and dot folders under a globstar', () => {
    expect(matchesAny('bench/.cache/x.json', ['bench/**'])).toBe(true);
    expect(matchesAny('.github/workflows/ci.yml', ['**/*.yml'])).toBe(true);
  });

  it('treats a plain folder name as the folder and everything under it', () => {
    expect(matchesAny('bench/run.js', ['bench'])).toBe(true);
    expect(matchesAny('bench', ['bench'])).toBe(true);
    expect(matchesAny('benchmarks/run.js', ['bench'])).toBe(false);
  });

  it('does not let a single star cross folders', () => {
    expect(matchesAny('src/a.js', ['src/*.js'])).toBe(true);
    expect(matchesAny('src/deep/a.js', ['src/*.js'])).toBe(false);
  });

  it('accepts globs written with a leading ./', () => {
    expect(matchesAny('src/sort.js', ['./src/sort.js'])).toBe(true);
  });

  it('matches nothing with no globs', () => {
    expect(matchesAny('anything', [])).toBe(false);
  });
});

describe('globRoots', () => {
  it("names each glob's fixed part, under which all it matches lies", () => {
    const globs = ['bench/**', 'ratchet.yaml', 'eval/*.json', './test/unit', 'data/[ab]/x.csv'];
    expect(globRoots(globs)).toEqual(['bench', 'data', 'eval', 'ratchet.yaml', 'test/unit']);
    const paths = ['bench/run.js', 'bench/.cache/x', 'ratchet.yaml', 'eval/a.json', 'test/unit/a.js', 'data/a/x.csv', 'src/ratchet.yaml', 'evaluate.json'];
    for (const path of paths.filter((p) => matchesAny(p, globs))) {
      expect(globRoots(globs)!.some((root) => path === root || path.startsWith(`${root}/`)), path).toBe(true);
    }
  });

  it('has no answer for a glob that can match anywhere', () => {
    for (const glob of ['**/*.test.js', '*.md', '!bench/**', '.', './', '{a,b}/x', 'a/../b']) expect(globRoots(['bench/**', glob]), glob).toBeUndefined();
  });
});

describe('checkPaths', () => {
  const policy = { editable: ['src/sort.js'], protected: ['bench/**', 'test/**', 'ratchet.yaml'] };

  it('accepts a change confined to editable paths', () => {
    expect(checkPaths(['src/sort.js'], policy)).toEqual({ ok: true });
  });

  it('names the protected path a change touches', () => {
    expect(checkPaths(['src/sort.js', 'bench/run.js'], policy)).toEqual({ ok: false, reason: 'touches protected path bench/run.js' });
  });

  it('names the first path outside editable', () => {
    expect(checkPaths(['src/sort.js', 'src/x.js', 'src/y.js'], policy)).toEqual({
      ok: false,
      reason: 'changes src/x.js, outside editable (src/sort.js)',
    });
  });

  it('reports a protected path before one that is merely not editable', () => {
    expect(checkPaths(['src/x.js', 'ratchet.yaml'], policy)).toEqual({ ok: false, reason: 'touches protected path ratchet.yaml' });
  });

  it('allows everything not protected when editable is empty', () => {
    const open = { editable: [], protected: ['bench/**'] };
    expect(checkPaths(['lib/a.js', 'README.md'], open)).toEqual({ ok: true });
    expect(checkPaths(['bench/run.js'], open)).toEqual({ ok: false, reason: 'touches protected path bench/run.js' });
  });

  it('lets protected win over editable', () => {
    const overlapping = { editable: ['**'], protected: ['test/**'] };
    expect(checkPaths(['test/sort.test.js'], overlapping)).toEqual({ ok: false, reason: 'touches protected path test/sort.test.js' });
  });
});

describe('isEditable', () => {
  it('says whether an agent tool may write a path', () => {
    const policy = { editable: ['src/**'], protected: ['src/generated/**'] };
    expect(isEditable('src/sort.js', policy)).toBe(true);
    expect(isEditable('src/generated/table.js', policy)).toBe(false);
    expect(isEditable('README.md', policy)).toBe(false);
    expect(isEditable('README.md', { editable: [], protected: [] })).toBe(true);
  });
});
