import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { initSpec } from '../../src/spec/init.js';
import { loadSpec, parseSpec } from '../../src/spec/load.js';
import { git, tempDir, writeTree, type FileTree } from '../helpers/gitdir.js';
import { issuesOf, issuesOfAsync, lines } from './problems.js';

const FLAGS = { objective: 'Make it faster.', bench: 'node bench.js', metric: 'ms', goal: 'minimize' };

describe('initSpec', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  async function repo(files: FileTree): Promise<string> {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    git(dir.path, 'init', '-q');
    await writeTree(dir.path, files);
    return dir.path;
  }
  /** Without `path`, no folder on PATH: pytest is not installed. */
  async function init(files: FileTree, flags = FLAGS, path = ''): Promise<{ dir: string; spec: Awaited<ReturnType<typeof loadSpec>>; guessed: string[] }> {
    const dir = await repo(files);
    const result = await initSpec(dir, { flags, path });
    return { dir, spec: await loadSpec(dir), guessed: result.guessed };
  }

  it('guesses npm test with npm ci when the package has a test script and a lockfile', async () => {
    const { spec, guessed } = await init({ 'package.json': JSON.stringify({ scripts: { test: 'vitest run' } }), 'package-lock.json': '{}', 'test/a.test.js': '' });
    expect(spec?.spec.checks).toEqual([{ name: 'test', run: 'npm test', timeout: 600_000 }]);
    expect(spec?.spec.setup).toBe('npm ci');
    expect(spec?.spec.protected).toEqual(['test/**', 'ratchet.yaml']);
    expect(guessed).toContain('checks: npm test (package.json has a test script)');
  });

  it('installs without writing a lockfile when the package has none', async () => {
    const { spec } = await init({ 'package.json': JSON.stringify({ scripts: { test: 'node --test' } }) });
    expect(spec?.spec.setup).toBe('npm install --no-package-lock');
  });

  it("ignores npm's placeholder test script", async () => {
    const { spec } = await init({ 'package.json': JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1' } }) });
    expect(spec?.spec.checks).toEqual([]);
    expect(spec?.spec.setup).toBeUndefined();
  });

  it.each<[string, FileTree]>([
    ['pytest.ini', { 'pytest.ini': '[pytest]\n' }],
    ['pyproject.toml', { 'pyproject.toml': '[tool.pytest.ini_options]\naddopts = "-q"\n' }],
    ['conftest.py', { 'conftest.py': '' }],
  ])('guesses pytest from %s', async (_name, files) => {
    const { spec } = await init(files);
    expect(spec?.spec.checks.map((c) => c.run)).toEqual(['pytest -q']);
  });

  it('proposes unittest for test_*.py files without pytest configuration, and protects them', async () => {
    const { spec, guessed } = await init({ 'sort.py': 'def sort(a): return sorted(a)\n', 'test_sort.py': 'import unittest\n', 'pkg/test_util.py': '' });
    expect(spec?.spec.checks).toEqual([{ name: 'test', run: 'python3 -m unittest', timeout: 600_000 }]);
    expect(spec?.spec.protected).toEqual(['**/test_*.py', 'ratchet.yaml']);
    expect(guessed).toContain('checks: python3 -m unittest (test_sort.py and no pytest configuration; pytest is not on PATH)');
    expect(guessed).toContain('protected: **/test_*.py (Python tests)');
  });

  it('proposes unittest discovery in a tests folder without pytest configuration', async () => {
    const { spec } = await init({ 'lib.py': '', 'tests/sort_test.py': '' });
    expect(spec?.spec.checks.map((c) => c.run)).toEqual(["python3 -m unittest discover -s tests -p '*_test.py'"]);
    expect(spec?.spec.protected).toContain('tests/**');
  });

  it('proposes pytest for those test files when pytest is on PATH', async () => {
    const bin = await tempDir();
    await writeTree(bin.path, { pytest: { content: '#!/bin/sh\n', mode: 0o755 } });
    try {
      const { spec, guessed } = await init({ 'test_sort.py': '' }, FLAGS, bin.path);
      expect(spec?.spec.checks.map((c) => c.run)).toEqual(['pytest -q']);
      expect(spec?.spec.protected).toContain('**/test_*.py');
      expect(guessed).toContain('checks: pytest -q (test_sort.py and no pytest configuration; pytest is on PATH)');
    } finally {
      await bin.cleanup();
    }
  });

  it('says a folder that is not a git repository is not one, with the commands that make it one, and writes nothing', async () => {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    const refusal = await initSpec(dir.path, { flags: FLAGS }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as UserError).message).toBe(`${dir.path} is not a git repository; ratchet keeps every try as a git commit, so it needs one`);
    expect((refusal as UserError).hint).toContain(`git -C ${dir.path} init && git -C ${dir.path} add -A`);
    expect(await loadSpec(dir.path)).toBeUndefined();
  });

  it('does not guess pytest from a pyproject.toml without it', async () => {
    const { spec } = await init({ 'pyproject.toml': '[project]\nname = "x"\n' });
    expect(spec?.spec.checks).toEqual([]);
  });

  it('guesses cargo test and protects the Rust test and bench folders', async () => {
    const { spec } = await init({ 'Cargo.toml': '[package]\nname = "x"\n', 'tests/it.rs': '', 'benches/b.rs': '' });
    expect(spec?.spec.checks.map((c) => c.run)).toEqual(['cargo test']);
    expect(spec?.spec.protected).toEqual(expect.arrayContaining(['tests/**', 'benches/**', 'ratchet.yaml']));
  });

  it('guesses go test and protects Go test files', async () => {
    const { spec } = await init({ 'go.mod': 'module x\n', 'sort_test.go': 'package x\n' });
    expect(spec?.spec.checks.map((c) => c.run)).toEqual(['go test ./...']);
    expect(spec?.spec.protected).toContain('**/*_test.go');
  });

  it('names several guessed checks by their tool', async () => {
    const { spec } = await init({ 'go.mod': 'module x\n', 'Cargo.toml': '' });
    expect(spec?.spec.checks.map((c) => c.name)).toEqual(['cargo-test', 'go-test']);
  });

  it('lets flags replace the guesses and protects the files the bench runs', async () => {
    const { spec, guessed } = await init(
      { 'package.json': JSON.stringify({ scripts: { test: 'jest' } }), 'bench.js': '', 'program.md': 'Be fast.' },
      { ...FLAGS, objective: 'program.md', check: ['make check'] } as typeof FLAGS,
    );
    expect(spec?.spec.checks).toEqual([{ name: 'check', run: 'make check', timeout: 600_000 }]);
    expect(spec?.spec.protected).toEqual(['ratchet.yaml', 'bench.js', 'program.md']);
    expect(guessed.some((line) => line.startsWith('checks:'))).toBe(false);
  });

  it('writes bench and objective as commented guidance when the flags do not give them', async () => {
    const dir = await repo({ 'go.mod': 'module x\n' });
    const result = await initSpec(dir, { flags: { metric: 'ns_per_op' } });
    expect(result.missing).toEqual(['--objective', '--bench', '--goal']);
    expect(result.yaml).toContain('#   metric: { name: ns_per_op, goal: minimize }');
    expect(result.yaml).toContain('# objective: program.md');
    expect(await readFile(result.path, 'utf8')).toBe(result.yaml);
    expect(lines(issuesOf(() => parseSpec(result.yaml, 'ratchet.yaml')))).toEqual(['objective: required', 'bench: required']);
  });

  it('refuses to overwrite a spec without --force, and overwrites it with', async () => {
    const dir = await repo({ 'ratchet.yml': 'objective: old\n' });
    const refusal = await initSpec(dir, { flags: FLAGS }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as UserError).hint).toContain('--force');
    const result = await initSpec(dir, { flags: FLAGS, force: true });
    expect(result.path).toBe(join(dir, 'ratchet.yml'));
    expect((await loadSpec(dir))?.spec.objective).toBe('Make it faster.');
  });

  it('rejects bad flags before writing anything, naming each flag', async () => {
    const dir = await repo({});
    const issues = await issuesOfAsync(() => initSpec(dir, { flags: { ...FLAGS, goal: 'fastest', repeat: 0 } }));
    expect(lines(issues)).toEqual(['--goal: expected "minimize" | "maximize", got "fastest"', '--repeat: must be at least 1']);
    expect(await loadSpec(dir)).toBeUndefined();
  });
});
