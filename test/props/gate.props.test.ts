/**
 * The patch gate on any change a candidate could commit: a reason or a pass, never a throw;
 * nothing that leads out of the worktree, into `.git` or to the evaluator passes, and a change
 * within the limits on editable paths does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gateChange } from '../../src/plan/gate.js';
import type { CandidateCommit } from '../../src/domain/workspace.js';
import { checkPaths, isEditable, matchesAny, symlinkProblem } from '../../src/plan/path-policy.js';
import type { Spec } from '../../src/domain/spec.js';
import { checkSpec } from '../../src/spec/validate.js';
import { awkwardPiece, within } from './arbitraries.js';

/** A file or folder name git could hold: any unicode but `/` and NUL, never `.` or `..`. */
const name = fc
  .oneof(
    fc.constantFrom('src', 'bench', 'test', 'lib', 'a', 'run.js', '.hidden', '.gitignore', '.github', 'é', 'e\u0301', '😀', ' ', '-', '*', '[x]', '{a,b}', '!x', '...', '.git.bak'),
    // Git takes any byte but NUL and `/` in a name: line breaks too.
    fc.constantFrom('x\ny.js', 'cr\r', '\n', 'u\u2028.js', '\u2029', 'tab\t'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
    fc.constant('n'.repeat(255)),
  )
  .map((s) => s.replace(/[/\0]/g, '_'))
  .filter((s) => s !== '.' && s !== '..' && s !== '.git');
const repoPath = fc.array(name, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/'));

/** Symlink targets a candidate could write with `ln -s`: `..`, absolute, `.git`, NUL, very long. */
const targetSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('..', '.', '', '.git', 'src', 'bench', 'test', 'run.js', '...', '.hidden') },
  { weight: 2, arbitrary: name },
  { weight: 1, arbitrary: fc.oneof(awkwardPiece, fc.string({ unit: 'binary', maxLength: 6 })) },
);
const target = fc.oneof(
  fc.tuple(fc.constantFrom('', '/', './', '//'), fc.array(targetSegment, { maxLength: 8 }), fc.constantFrom('', '/')).map(([head, parts, tail]) => `${head}${parts.join('/')}${tail}`),
  fc.constantFrom('/etc/passwd', '../../..', `${'../'.repeat(2000)}etc`, `${'a/'.repeat(2000)}${'../'.repeat(2001)}x`, 'x'.repeat(4095), '.git/config', '.git/../.git', 'src/../..', 'C:\\Windows', '\\\\server\\share'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/**
 * Where a link leads, walked segment by segment from its folder the way the kernel follows it
 * (no further links on the way); undefined when it leaves the worktree.
 */
function walk(link: string, to: string): string[] | undefined {
  if (to.startsWith('/')) return undefined;
  const parts = link.split('/').slice(0, -1);
  for (const segment of to.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') parts.push(segment);
    else if (parts.pop() === undefined) return undefined;
  }
  return parts;
}

/** Protected paths written as a user writes them: plain files and folders (no glob characters). */
const protectedLiterals = fc.array(
  repoPath.filter((p) => !/[*?[\]{}()!+@\\"']/.test(p)),
  { maxLength: 3 },
);

/** Globs as specs write them, plus random short ones (long random globs backtrack: see the report). */
const glob = fc.oneof(
  fc.constantFrom('src/**', 'bench/**', 'test/**', '**/*.test.js', '**/*.test.*', 'ratchet.yaml', 'bench', './bench', 'bench/', '*.md', 'src/*.js', '**/fixtures/**', '.github/**', '**', '*', '{src,lib}/**', '!src/**', '[', '\\'),
  fc.string({ maxLength: 6 }),
);

describe('symlinkProblem', () => {
  it('answers any link, target and protected globs with a reason or a pass', () => {
    fc.assert(
      fc.property(fc.oneof(repoPath, fc.string()), target, fc.array(glob, { maxLength: 4 }), (link, to, globs) => {
        const problem = within(500, () => symlinkProblem(link, to, globs));
        expect(problem === undefined || (typeof problem === 'string' && problem.length > 0)).toBe(true);
      }),
      { numRuns: 800 },
    );
  });

  it('refuses every link that leads out of the worktree, and every empty or NUL target', () => {
    fc.assert(
      fc.property(repoPath, target, (link, to) => {
        fc.pre(to === '' || to.includes('\0') || walk(link, to) === undefined);
        expect(symlinkProblem(link, to, [])).toMatch(/outside the worktree|empty or invalid/);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses every link to the worktree's root or into its .git", () => {
    fc.assert(
      fc.property(repoPath, target, (link, to) => {
        const parts = walk(link, to);
        fc.pre(!to.includes('\0') && to !== '' && parts !== undefined && (parts.length === 0 || parts[0] === '.git'));
        expect(symlinkProblem(link, to, [])).toMatch(/root|\.git/);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every link at a protected path, inside one, or at a folder that holds one', () => {
    fc.assert(
      fc.property(repoPath, protectedLiterals, fc.nat(), fc.constantFrom('at', 'inside', 'above'), fc.array(name, { maxLength: 3 }), (link, guarded, pick, where, rest) => {
        fc.pre(guarded.length > 0);
        const chosen = guarded[pick % guarded.length]!.split('/');
        const leadsTo = where === 'at' ? chosen : where === 'inside' ? [...chosen, ...rest] : chosen.slice(0, Math.max(1, chosen.length - 1 - (pick % chosen.length)));
        // A relative target from the link's folder to that place.
        const up = link.split('/').length - 1;
        const to = `${'../'.repeat(up)}${leadsTo.join('/')}`;
        expect(walk(link, to)).toEqual(leadsTo);
        expect(symlinkProblem(link, to, guarded)).toMatch(/protected path/);
      }),
      { numRuns: 500 },
    );
  });

  it('lets a link to an unprotected place in the worktree stay', () => {
    fc.assert(
      fc.property(repoPath, target, protectedLiterals, (link, to, guarded) => {
        const parts = walk(link, to);
        fc.pre(to !== '' && !to.includes('\0') && parts !== undefined && parts.length > 0 && parts[0] !== '.git');
        const resolved = parts.join('/');
        // Nothing protected at, inside or under the place it leads to.
        fc.pre(guarded.every((p) => p !== resolved && !resolved.startsWith(`${p}/`) && !p.startsWith(`${resolved}/`)));
        expect(symlinkProblem(link, to, guarded)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });
});

describe('checkPaths', () => {
  const policy = fc.record({ editable: fc.array(glob, { maxLength: 3 }), protected: fc.array(glob, { maxLength: 3 }) });
  const files = fc.array(fc.oneof(repoPath, fc.string({ maxLength: 20 }), fc.constant('n/'.repeat(2000))), { maxLength: 8 });

  it("passes exactly the changes whose every path the agent's tools may edit", () => {
    fc.assert(
      fc.property(files, policy, (changed, paths) => {
        const check = within(1_000, () => checkPaths(changed, paths));
        expect(check.ok).toBe(changed.every((file) => isEditable(file, paths)));
        if (!check.ok) expect(check.reason).toMatch(/\S/);
      }),
      { numRuns: 800 },
    );
  });

  it('refuses every change that touches a path under a protected folder, however the folder is written, and names it', () => {
    const spelling = fc.constantFrom((p: string) => p, (p: string) => `./${p}`, (p: string) => `${p}/`, (p: string) => `${p}/**`, (p: string) => `${p}/**/*`, (p: string) => `**/${p}/**`);
    fc.assert(
      fc.property(fc.array(repoPath.map((p) => `src/${p}`), { maxLength: 4 }), repoPath, fc.array(name, { minLength: 1, maxLength: 3 }), spelling, fc.nat(), (others, folder, rest, write, at) => {
        fc.pre(!/[*?[\]{}()!+@\\"']/.test(folder) && !`${folder}/`.startsWith('src/'));
        // `**/<folder>/**` covers the folder anywhere: no other path may hold it too.
        fc.pre(others.every((other) => !`/${other}/`.includes(`/${folder}/`)));
        const touched = `${folder}/${rest.join('/')}`;
        const changed = [...others];
        changed.splice(at % (others.length + 1), 0, touched);
        const paths = { editable: ['src/**'], protected: [write(folder)] };
        expect(checkPaths(changed, paths)).toEqual({ ok: false, reason: `touches protected path ${touched}` });
        expect(isEditable(touched, paths)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('matches any path against any glob without throwing', () => {
    fc.assert(
      fc.property(fc.oneof(repoPath, fc.string()), fc.array(glob, { maxLength: 4 }), (path, globs) => {
        expect(typeof within(500, () => matchesAny(path, globs))).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

function specWith(limits: Record<string, unknown>, paths: { editable: string[]; protected: string[] }): Spec {
  const result = checkSpec({ objective: 'x', bench: { run: 'node bench.js', metric: { name: 'ms', goal: 'minimize' } }, ...paths, limits });
  if (!result.ok) throw new Error(`test spec is invalid: ${JSON.stringify(result.problems)}`);
  return result.spec;
}

const limits = fc.record({
  max_changed_files: fc.integer({ min: 1, max: 60 }),
  max_diff_lines: fc.integer({ min: 1, max: 10_000 }),
  max_patch_bytes: fc.integer({ min: 1, max: 10_000_000 }),
  binary: fc.constantFrom('allow', 'refuse'),
});

const candidate = (files: fc.Arbitrary<string[]>, symlinks: fc.Arbitrary<{ path: string; target: string }[]>): fc.Arbitrary<CandidateCommit> =>
  fc.record({
    commit: fc.stringMatching(/^[0-9a-f]{40}$/),
    patch: fc.constant(undefined),
    patchBytes: fc.nat(20_000_000),
    binary: fc.array(repoPath, { maxLength: 3 }),
    symlinks,
    files,
    insertions: fc.nat(20_000),
    deletions: fc.nat(20_000),
  });

describe('gateChange', () => {
  it('answers any change with a reason or a pass', () => {
    const anyFiles = fc.array(fc.oneof(repoPath, fc.string(), awkwardPiece), { maxLength: 70 });
    const anyLinks = fc.array(fc.record({ path: fc.oneof(repoPath, fc.string()), target }), { maxLength: 3 });
    fc.assert(
      fc.property(limits, fc.array(glob, { maxLength: 3 }), fc.array(glob, { maxLength: 3 }), candidate(anyFiles, anyLinks), (l, editable, guarded, change) => {
        fc.pre(editable.every((g) => g !== '') && guarded.every((g) => g !== ''));
        const verdict = within(1_000, () => gateChange(specWith(l, { editable, protected: guarded }), change));
        expect(verdict === undefined || verdict.length > 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never passes a change with a symlink that leads out of the worktree', () => {
    const escaping = fc.tuple(repoPath, target).filter(([link, to]) => walk(link, to) === undefined);
    fc.assert(
      fc.property(limits, candidate(fc.array(repoPath.map((p) => `src/${p}`), { maxLength: 5 }), fc.array(escaping.map(([path, to]) => ({ path, target: to })), { minLength: 1, maxLength: 2 })), (l, change) => {
        expect(gateChange(specWith(l, { editable: ['src/**'], protected: ['bench/**'] }), change)).toEqual(expect.any(String));
      }),
      { numRuns: 300 },
    );
  });

  it('passes a change within every limit, on editable paths, without symlinks or refused binaries', () => {
    fc.assert(
      fc.property(limits, fc.uniqueArray(repoPath.map((p) => `src/${p}`), { maxLength: 60 }), fc.nat(), fc.nat(), fc.nat(), (l, files, a, b, c) => {
        const change: CandidateCommit = {
          commit: 'a'.repeat(40),
          patch: undefined,
          patchBytes: a % (l.max_patch_bytes + 1),
          binary: l.binary === 'allow' ? files.slice(0, 1) : [],
          symlinks: [],
          files: files.slice(0, l.max_changed_files),
          insertions: b % (l.max_diff_lines + 1),
          deletions: 0,
        };
        change.deletions = c % (l.max_diff_lines - change.insertions + 1);
        expect(gateChange(specWith(l, { editable: ['src/**'], protected: ['bench/**', 'ratchet.yaml'] }), change)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a change past any one limit and names that limit', () => {
    fc.assert(
      fc.property(limits, fc.constantFrom('max_patch_bytes', 'max_changed_files', 'max_diff_lines', 'binary'), fc.integer({ min: 1, max: 1_000 }), (l, broken, over) => {
        const files = Array.from({ length: broken === 'max_changed_files' ? l.max_changed_files + over : 1 }, (_, i) => `src/f${i}.js`);
        const change: CandidateCommit = {
          commit: 'b'.repeat(40),
          patch: undefined,
          patchBytes: broken === 'max_patch_bytes' ? l.max_patch_bytes + over : 0,
          binary: broken === 'binary' ? ['src/logo.png'] : [],
          symlinks: [],
          files,
          insertions: broken === 'max_diff_lines' ? l.max_diff_lines + over : 0,
          deletions: 0,
        };
        const spec = specWith({ ...l, binary: broken === 'binary' ? 'refuse' : l.binary }, { editable: ['src/**'], protected: [] });
        expect(gateChange(spec, change)).toContain(broken === 'binary' ? 'limits.binary' : `limits.${broken}`);
      }),
      { numRuns: 300 },
    );
  });
});
