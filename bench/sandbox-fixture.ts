/**
 * Real git repositories and linked worktrees for bench/sandbox-cost.ts, laid out as ratchet lays
 * them out: each worktree in `<git dir>/ratchet/worktrees/<run>/`, so the sandbox's `hide` of
 * `<git dir>/ratchet` and the worktree's own writable mount inside it are both exercised.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { git, RATCHET_IDENTITY } from '../src/git/exec.js';

export interface Repo {
  /** The user's checkout. */
  path: string;
  gitDir: string;
  commit: string;
}

/** Writes files in batches: 20,000 files one by one would take longer than the bench. */
export async function writeFiles(root: string, files: ReadonlyMap<string, string>): Promise<void> {
  const folders = new Set([...files.keys()].map((file) => dirname(join(root, file))));
  await Promise.all([...folders].map((folder) => mkdir(folder, { recursive: true })));
  const entries = [...files];
  for (let at = 0; at < entries.length; at += 500) {
    await Promise.all(entries.slice(at, at + 500).map(([file, content]) => writeFile(join(root, file), content)));
  }
}

/**
 * A small JavaScript project: `sources` modules under src/, `cases` protected evaluator files
 * under eval/, a bench, a spec; node_modules ignored. Committed on `main`.
 */
export async function makeRepo(path: string, sources: number, cases: number): Promise<Repo> {
  const files = new Map<string, string>([
    ['package.json', '{ "name": "bench-target", "type": "module" }\n'],
    ['.gitignore', 'node_modules/\nout/\n'],
    ['ratchet.yaml', 'protected: [eval/*.json, ratchet.yaml, bench.js]\n'],
    ['bench.js', 'console.log("duration_ms: 1")\n'],
  ]);
  for (let i = 0; i < sources; i++) files.set(`src/part-${Math.floor(i / 30)}/mod-${i}.js`, `export const v${i} = ${i};\n`);
  for (let i = 0; i < cases; i++) files.set(`eval/case-${String(i).padStart(3, '0')}.json`, `{ "case": ${i} }\n`);
  await writeFiles(path, files);
  await git(['init', '-q', '-b', 'main'], { cwd: path });
  await git(['add', '-A'], { cwd: path });
  await git(['commit', '-q', '-m', 'initial'], { cwd: path, env: RATCHET_IDENTITY });
  const commit = (await git(['rev-parse', 'HEAD'], { cwd: path })).stdout.trim();
  return { path, gitDir: join(path, '.git'), commit };
}

/** Where ratchet puts a run's worktree (src/git/workspace.ts `defaultWorktreeRoot`). */
export async function addWorktree(repo: Repo, name: string): Promise<string> {
  const worktree = join(repo.gitDir, 'ratchet', 'worktrees', 'bench', name);
  await git(['worktree', 'add', '--quiet', '--detach', worktree, repo.commit], { cwd: repo.path });
  return worktree;
}

/** What an `npm install` leaves: `packages` packages of `perPackage` files each, two levels deep. */
export function nodeModules(packages: number, perPackage: number): Map<string, string> {
  const files = new Map<string, string>();
  for (let p = 0; p < packages; p++) {
    const root = `node_modules/pkg-${p}`;
    files.set(`${root}/package.json`, `{ "name": "pkg-${p}" }\n`);
    for (let f = 1; f < perPackage; f++) files.set(`${root}/lib/${f % 5}/file-${f}.js`, `module.exports = ${f};\n`);
  }
  return files;
}
