/**
 * A target and a replay series for benches that run the real product path (`startRun`): a git
 * repository of `files` tracked files, a bench that prints its metric at once, and `patches`
 * patches that each change one line of its own file (so each applies whatever was kept before).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, RATCHET_IDENTITY } from '../src/git/exec.js';
import { writeFiles } from './sandbox-fixture.js';

export const SPEC = `objective: make the score lower
editable: ["edit/**"]
protected: ["bench.sh", "ratchet.yaml"]
bench:
  run: sh bench.sh
  timeout: 30s
  metric: { name: score, goal: minimize }
  repeat: 1
budget: { consecutive_failures: 100000 }
`;

export interface Fixture {
  root: string;
  repo: string;
  patches: string;
  experiments: string;
  cleanup: () => Promise<void>;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** `files` tracked files in all (at least `patches` + 3): the editable ones, filler under src/, the bench, the spec. */
export async function makeFixture(label: string, files: number, patches: number): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), `ratchet-bench-${label}-`));
  const repo = join(root, 'repo');
  const tree = new Map<string, string>([
    ['ratchet.yaml', SPEC],
    ['bench.sh', 'echo "METRIC score=1"\n'],
    ['.gitignore', '*.tmp\n'],
  ]);
  for (let i = 1; i <= patches; i++) tree.set(`edit/e${pad(i, 5)}.txt`, '0\n');
  // 200 files a folder, like a real source tree (a flat folder of 20,000 files is not).
  for (let i = 0; tree.size < files; i++) tree.set(`src/d${pad(Math.floor(i / 200), 3)}/f${pad(i, 5)}.txt`, `line ${i}\n`);
  await writeFiles(repo, tree);
  await git(['init', '-q', '-b', 'main'], { cwd: repo });
  await git(['add', '-A'], { cwd: repo });
  await git(['commit', '-q', '-m', 'initial'], { cwd: repo, env: RATCHET_IDENTITY });
  const dir = join(root, 'patches');
  await mkdir(dir);
  for (let i = 1; i <= patches; i++) {
    const path = `edit/e${pad(i, 5)}.txt`;
    await writeFile(join(dir, `${pad(i, 5)}.patch`), `# change line 1 of ${path}\ndiff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -1 +1 @@\n-0\n+1\n`);
  }
  return { root, repo, patches: dir, experiments: join(root, 'experiments'), cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** How many files the repository tracks, to state its size as measured. */
export async function trackedFiles(repo: string): Promise<number> {
  const { stdout } = await git(['ls-files', '-z'], { cwd: repo });
  return stdout.split('\0').filter((p) => p !== '').length;
}
