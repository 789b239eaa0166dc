import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { initSpec } from '../../src/spec/init.js';
import { loadSpec, parseSpec } from '../../src/spec/load.js';
import { tempDir, writeTree, type FileTree } from '../helpers/gitdir.js';
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
    await writeTree(dir.path, files);
    return dir.path;
  }
  async function init(files: FileTree, flags = FLAGS): Promise<{ dir: string; spec: Awaited<ReturnType<typeof loadSpec>>; guessed: string[] }> {
    const dir = await repo(files);
    const result = await initSpec(dir, { flags });
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
    ['a tests folder of Python files', { 'tests/test_sort.py': 'def test_x(): pass\n' }],
  ])('guesses pytest from %s', async (_name, files) => {
    const { spec } = await init(files);
    expect(spec?.spec.checks.map((c) => c.run)).toEqual(['pytest -q']);
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
