/**
 * A small target for end-to-end runs: `value.txt` holds the metric; files under `src/` steer
 * the checks and the bench into each verdict. Patches are made against the state the run will
 * be in when it applies them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, gitdir, type FileTree } from './gitdir.js';

export const TARGET_SPEC = `objective: make the score lower
editable: ["value.txt", "src/**"]
protected: ["bench.sh", "ratchet.yaml"]
checks:
  - { name: test, run: "test ! -e src/broken", timeout: 10s }
bench:
  run: sh bench.sh
  timeout: 3s
  metric: { name: score, goal: minimize }
budget: { consecutive_failures: 50 }
`;

export const TARGET_FILES: FileTree = {
  'value.txt': '10\n',
  'bench.sh': [
    '#!/bin/sh',
    'if [ -e src/crash ]; then echo "boom" >&2; exit 1; fi',
    // A marker in the command line lets a test find exactly this bench's processes in `ps`.
    "if [ -e src/slow ]; then sh -c 'sleep 30; : ratchet-target-slow-bench'; fi",
    'if [ -e src/nometric ]; then echo "no metric here"; exit 0; fi',
    'echo "METRIC score=$(cat value.txt)"',
    '',
  ].join('\n'),
  'src/lib.txt': 'library\n',
  '.gitignore': '*.tmp\n',
  'ratchet.yaml': TARGET_SPEC,
};

export async function makeTarget(extra: FileTree = {}): Promise<{ path: string; cleanup: () => Promise<void> }> {
  return gitdir({ ...TARGET_FILES, ...extra });
}

/** A unified diff that creates `path` with `content` (one line). */
export function createFilePatch(path: string, content: string, subject?: string): string {
  return `${subject === undefined ? '' : `# ${subject}\n`}diff --git a/${path} b/${path}
new file mode 100644
--- /dev/null
+++ b/${path}
@@ -0,0 +1 @@
+${content}
`;
}

/** A unified diff that replaces the one line of `path`. */
export function replaceLinePatch(path: string, from: string, to: string, subject?: string): string {
  return `${subject === undefined ? '' : `# ${subject}\n`}diff --git a/${path} b/${path}
--- a/${path}
+++ b/${path}
@@ -1 +1 @@
-${from}
+${to}
`;
}

export async function writePatches(dir: string, patches: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(patches)) await writeFile(join(dir, name), text);
}

/** What the user's checkout looks like, byte for byte where it matters. */
export function checkoutSnapshot(repo: string): Record<string, string> {
  return {
    head: git(repo, 'rev-parse', 'HEAD'),
    branch: git(repo, 'symbolic-ref', 'HEAD'),
    status: git(repo, 'status', '--porcelain=v2', '--branch', '--untracked-files=all'),
    index: git(repo, 'ls-files', '--stage', '--debug'),
    diff: git(repo, 'diff'),
    cached: git(repo, 'diff', '--cached'),
  };
}
