/**
 * What `ratchet init` can tell from a repository's files: how its tests run, how to install its
 * dependencies, and which folders judge a candidate (tests, benchmarks) and so must be protected.
 * Only reads files (and looks for a tool on PATH); it never runs anything.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { isFile } from '../util/fs.js';

export interface GuessOptions {
  /** Where to look for tools such as pytest (default: the PATH of this process). */
  path?: string | undefined;
}

export interface RepoGuess {
  checks: { name: string; run: string }[];
  setup: string | undefined;
  protected: string[];
  /** One line per guess, saying what was found: `checks: npm test (package.json has a test script)`. */
  guessed: string[];
}

interface Found {
  tool: string;
  run: string;
  why: string;
  setup?: { run: string; why: string };
}

/** npm writes this test script into every new package.json; it is not a test suite. */
const NPM_PLACEHOLDER_TEST = /no test specified/;

const JUDGE_FOLDERS = ['test', 'tests', '__tests__', 'bench', 'benches', 'benchmark', 'benchmarks'];

export async function guessFromRepo(repoDir: string, options: GuessOptions = {}): Promise<RepoGuess> {
  const path = options.path ?? process.env['PATH'] ?? '';
  const py = await python(repoDir, path);
  const found = [await node(repoDir), py?.found, await rust(repoDir), await golang(repoDir)].filter((f) => f !== undefined);
  const guessed: string[] = [];
  // One check reads best as `test`; several are named by their tool so they stay apart.
  const checks = found.map((f) => ({ name: found.length === 1 ? 'test' : f.tool, run: f.run }));
  for (const f of found) guessed.push(`checks: ${f.run} (${f.why})`);
  const setup = found.find((f) => f.setup !== undefined)?.setup;
  if (setup !== undefined) guessed.push(`setup: ${setup.run} (${setup.why})`);

  const protectedGlobs: string[] = [];
  for (const folder of JUDGE_FOLDERS) {
    if (await isDir(join(repoDir, folder))) {
      protectedGlobs.push(`${folder}/**`);
      guessed.push(`protected: ${folder}/** (${folder.startsWith('bench') ? 'benchmark' : 'test'} folder)`);
    }
  }
  if (await isFile(join(repoDir, 'conftest.py'))) {
    protectedGlobs.push('conftest.py');
    guessed.push('protected: conftest.py (pytest fixtures)');
  }
  // Test files beside the code (`test_sort.py`), where no test folder protects them.
  for (const glob of py?.testGlobs ?? []) {
    protectedGlobs.push(glob);
    guessed.push(`protected: ${glob} (Python tests)`);
  }
  if (found.some((f) => f.tool === 'go-test')) {
    protectedGlobs.push('**/*_test.go');
    guessed.push('protected: **/*_test.go (Go tests)');
  }
  return { checks, setup: setup?.run, protected: protectedGlobs, guessed };
}

async function node(repoDir: string): Promise<Found | undefined> {
  const text = await readText(join(repoDir, 'package.json'));
  if (text === undefined) return undefined;
  let test: unknown;
  try {
    test = (JSON.parse(text) as { scripts?: { test?: unknown } }).scripts?.test;
  } catch {
    return undefined;
  }
  if (typeof test !== 'string' || test.trim() === '' || NPM_PLACEHOLDER_TEST.test(test)) return undefined;
  const why = 'package.json has a test script';
  if (await isFile(join(repoDir, 'pnpm-lock.yaml'))) {
    return { tool: 'pnpm-test', run: 'pnpm test', why, setup: { run: 'pnpm install --frozen-lockfile', why: 'pnpm-lock.yaml' } };
  }
  if (await isFile(join(repoDir, 'yarn.lock'))) {
    return { tool: 'yarn-test', run: 'yarn test', why, setup: { run: 'yarn install --frozen-lockfile', why: 'yarn.lock' } };
  }
  for (const lock of ['package-lock.json', 'npm-shrinkwrap.json']) {
    if (await isFile(join(repoDir, lock))) return { tool: 'npm-test', run: 'npm test', why, setup: { run: 'npm ci', why: lock } };
  }
  // Without --no-package-lock, npm would leave a new package-lock.json in every worktree,
  // where it would count as part of the candidate's change.
  return { tool: 'npm-test', run: 'npm test', why, setup: { run: 'npm install --no-package-lock', why: 'no lockfile' } };
}

/** Python test files by name, as pytest and unittest find them. */
const PY_TEST_FILES: readonly { glob: string; test: (name: string) => boolean; unittest: string }[] = [
  { glob: '**/test_*.py', test: (name) => /^test_.*\.py$/.test(name), unittest: '' },
  { glob: '**/*_test.py', test: (name) => /^.+_test\.py$/.test(name), unittest: " -p '*_test.py'" },
];

/**
 * pytest when the repository configures it; otherwise, for test files without configuration,
 * pytest when it is on PATH, else the standard library's unittest (always there with python3).
 */
async function python(repoDir: string, path: string): Promise<{ found: Found; testGlobs: string[] } | undefined> {
  const pytest = (why: string): Found => ({ tool: 'pytest', run: 'pytest -q', why });
  if (await isFile(join(repoDir, 'pytest.ini'))) return { found: pytest('pytest.ini'), testGlobs: [] };
  const configs: [string, RegExp][] = [
    ['pyproject.toml', /pytest/],
    ['setup.cfg', /\[tool:pytest\]/],
    ['tox.ini', /\[pytest\]/],
  ];
  for (const [file, pattern] of configs) {
    if (pattern.test((await readText(join(repoDir, file))) ?? '')) return { found: pytest(`${file} configures pytest`), testGlobs: [] };
  }
  if (await isFile(join(repoDir, 'conftest.py'))) return { found: pytest('conftest.py'), testGlobs: [] };
  const onPath = await onSearchPath('pytest', path);
  // Beside the code first: a root with test files is where unittest's discovery starts.
  const rootNames = await readdir(repoDir).catch(() => [] as string[]);
  const kinds = PY_TEST_FILES.filter((kind) => rootNames.some(kind.test));
  const first = kinds[0];
  if (first !== undefined) {
    const what = `${rootNames.find(first.test)} and no pytest configuration`;
    const found = onPath ? pytest(`${what}; pytest is on PATH`) : { tool: 'unittest', run: `python3 -m unittest${first.unittest}`, why: `${what}; pytest is not on PATH` };
    return { found, testGlobs: kinds.map((kind) => kind.glob) };
  }
  for (const folder of ['tests', 'test']) {
    const names = await readdir(join(repoDir, folder)).catch(() => [] as string[]);
    if (!names.some((name) => name.endsWith('.py'))) continue;
    const kind = PY_TEST_FILES.find((k) => names.some(k.test)) ?? PY_TEST_FILES[0]!;
    const what = `${folder}/ has Python files and no pytest configuration`;
    // The folder is protected as a judge folder; discovery starts in it.
    return {
      found: onPath ? pytest(`${what}; pytest is on PATH`) : { tool: 'unittest', run: `python3 -m unittest discover -s ${folder}${kind.unittest}`, why: `${what}; pytest is not on PATH` },
      testGlobs: [],
    };
  }
  return undefined;
}

/** Whether an executable named `tool` is in one of PATH's folders. */
async function onSearchPath(tool: string, path: string): Promise<boolean> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const ok = await access(join(dir, tool), constants.X_OK).then(() => true, () => false);
    if (ok && (await isFile(join(dir, tool)))) return true;
  }
  return false;
}

async function rust(repoDir: string): Promise<Found | undefined> {
  return (await isFile(join(repoDir, 'Cargo.toml'))) ? { tool: 'cargo-test', run: 'cargo test', why: 'Cargo.toml' } : undefined;
}

async function golang(repoDir: string): Promise<Found | undefined> {
  return (await isFile(join(repoDir, 'go.mod'))) ? { tool: 'go-test', run: 'go test ./...', why: 'go.mod' } : undefined;
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
