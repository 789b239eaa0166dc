/**
 * Real git repositories in temporary folders, built from a file tree, for tests.
 * (changesets' `gitdir(fileTree)` idea.)
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type FileTree = Record<string, string | { content: string; mode: number }>;

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.com' },
  }).trim();
}

export async function writeTree(root: string, files: FileTree): Promise<void> {
  for (const [path, value] of Object.entries(files)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    const { content, mode } = typeof value === 'string' ? { content: value, mode: 0o644 } : value;
    await writeFile(full, content);
    await chmod(full, mode);
  }
}

/** A temporary folder removed by the returned cleanup. */
export async function tempDir(label = 'ratchet-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), label));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A git repository with `files` committed on `main`. */
export async function gitdir(files: FileTree): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await tempDir('ratchet-repo-');
  git(dir.path, 'init', '-q', '-b', 'main');
  git(dir.path, 'config', 'user.name', 'Test');
  git(dir.path, 'config', 'user.email', 'test@example.com');
  git(dir.path, 'config', 'commit.gpgsign', 'false');
  await writeTree(dir.path, files);
  git(dir.path, 'add', '-A');
  git(dir.path, 'commit', '-q', '-m', 'initial');
  return dir;
}
