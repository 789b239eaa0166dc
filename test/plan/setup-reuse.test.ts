import { describe, expect, it } from 'vitest';
import { changedInputs, setupChangedTracked, setupOutputs, setupReuse, type SetupInputs } from '../../src/plan/setup-reuse.js';

const inputs = (files: Record<string, string>, over: Partial<SetupInputs> = {}): SetupInputs => ({
  command: 'npm ci',
  baseCommit: 'base1',
  protected: ['bench/**'],
  globs: ['package-lock.json'],
  files: new Map(Object.entries(files)),
  ...over,
});
const ask = (previous: SetupInputs | undefined, now: SetupInputs, more: { sandboxed?: boolean; setupChangedTracked?: string[] } = {}) =>
  setupReuse({ previous, now, sandboxed: more.sandboxed ?? true, setupChangedTracked: more.setupChangedTracked ?? [] });

describe('setupReuse', () => {
  const lock = { 'package-lock.json': '100644 blob aaa' };

  it('reuses when the command, base, globs and input blobs are all the same, and names the inputs', () => {
    expect(ask(inputs(lock), inputs(lock))).toEqual({ reuse: true, reason: 'setup reused: inputs unchanged (package-lock.json)' });
    expect(ask(inputs({}), inputs({}))).toEqual({ reuse: true, reason: 'setup reused: inputs unchanged (no file matches package-lock.json)' });
  });

  it('runs setup again when an input was changed, added or removed', () => {
    expect(ask(inputs(lock), inputs({ 'package-lock.json': '100644 blob bbb' }))).toEqual({ reuse: false, reason: 'input changed (package-lock.json)' });
    expect(ask(inputs(lock), inputs({ ...lock, 'a/package-lock.json': 'x' }, { globs: ['package-lock.json'] })).reason).toBe('input changed (a/package-lock.json)');
    expect(ask(inputs(lock), inputs({})).reason).toBe('input changed (package-lock.json)');
  });

  it('runs setup again when what else the outputs depend on changed: the command, the base, the globs', () => {
    expect(ask(inputs(lock), inputs(lock, { command: 'npm install' })).reason).toBe('the setup command changed');
    expect(ask(inputs(lock), inputs(lock, { baseCommit: 'base2' })).reason).toBe('the base commit changed (protected files come from it)');
    expect(ask(inputs(lock), inputs(lock, { protected: [] })).reason).toBe("the spec's protected or inputs globs changed");
    expect(ask(inputs(lock), inputs(lock, { globs: ['*.lock'] })).reason).toBe("the spec's protected or inputs globs changed");
  });

  it('never reuses outside the sandbox, nor where setup never ran, nor when setup rewrote a tracked file', () => {
    expect(ask(inputs(lock), inputs(lock), { sandboxed: false }).reuse).toBe(false);
    expect(ask(undefined, inputs(lock))).toEqual({ reuse: false, reason: 'this worker has no record of setup in this worktree' });
    expect(ask(inputs(lock), inputs(lock), { setupChangedTracked: ['src/gen.ts'] }).reason).toBe('setup changed tracked file src/gen.ts, which another commit may hold otherwise');
  });
});

describe('what setup left', () => {
  it('lists changed inputs in order', () => {
    expect(changedInputs(new Map([['b', '1'], ['a', '1']]), new Map([['b', '2'], ['c', '1']]))).toEqual(['a', 'b', 'c']);
  });

  it('leaves the protected files the base supplies out of the tracked files setup changed', () => {
    expect(setupChangedTracked(new Set(['bench/run.sh', 'src/gen.ts']), ['bench/**'])).toEqual(['src/gen.ts']);
  });

  it('covers setup outputs with the fewest paths: an untracked folder as one, tracked files setup changed, no links', () => {
    const tree = new Map([
      ['src', 'd:1'],
      ['src/a.ts', 'f:1'],
      ['src/gen.ts', 'f:2'],
      ['node_modules', 'd:1'],
      ['node_modules/dep', 'd:1'],
      ['node_modules/dep/index.js', 'f:3'],
      ['package-lock.json', 'f:4'],
      ['current', 'l:5'],
    ]);
    const record = { tree, tracked: new Set(['src/a.ts', 'package-lock.json']), setupTouched: new Set(['package-lock.json']) };
    expect(setupOutputs(record)).toEqual(['node_modules', 'package-lock.json', 'src/gen.ts']);
  });
});
