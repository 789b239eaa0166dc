/**
 * The user's checkout (the repository's main worktree) as `git status` sees it, for stages that
 * ran unsandboxed: a candidate can find it by walking up from its worktree and write into it.
 * The snapshot holds a stamp of every file status lists (dirty, staged, untracked) and the
 * content of the small ones, so that what a stage wrote is found and put back: a file it added
 * goes, a clean file it changed comes back from HEAD, the user's own dirty file comes back as
 * it was. Whatever is replaced or removed is first copied aside, so nothing of the user's is
 * lost even if they were editing at the same time. Files git ignores are not looked at.
 */
import { copyFile, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CheckoutSnapshot } from '../domain/workspace.js';
import { git, LITERAL_PATHSPECS, splitNul } from './exec.js';

/** The content of dirty files up to this size is kept, so they can be put back. */
const KEEP_FILE_BYTES = 1024 * 1024;
const KEEP_TOTAL_BYTES = 16 * 1024 * 1024;

/** The main worktree of the repository at `gitDir`; undefined for a bare repository. */
export async function userCheckoutOf(gitDir: string): Promise<string | undefined> {
  const { stdout } = await git(['--git-dir', gitDir, 'worktree', 'list', '--porcelain', '-z'], { cwd: gitDir });
  const main = splitNul(stdout.split('\0\0')[0] ?? '');
  const path = main[0]?.startsWith('worktree ') ? main[0].slice('worktree '.length) : undefined;
  return path === undefined || main.includes('bare') ? undefined : path;
}

export async function snapshotCheckout(gitDir: string): Promise<CheckoutSnapshot | undefined> {
  const path = await userCheckoutOf(gitDir);
  if (path === undefined) return undefined;
  const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'], { cwd: path, allowFailure: true });
  if (status.exitCode !== 0) return undefined;
  const entries = new Map<string, { stamp: string; content: string | undefined }>();
  let kept = 0;
  for (const entry of splitNul(status.stdout)) {
    const file = entry.slice(3);
    const info = await lstat(join(path, file)).catch(() => undefined);
    const stamp = `${entry.slice(0, 2)} ${info === undefined ? 'gone' : `${info.mode}:${info.size}:${info.mtimeMs}:${info.ino}`}`;
    let content: string | undefined;
    if (info?.isFile() === true && info.size <= KEEP_FILE_BYTES && kept + info.size <= KEEP_TOTAL_BYTES) {
      content = await readFile(join(path, file), 'latin1').catch(() => undefined);
      kept += content?.length ?? 0;
    }
    entries.set(file, { stamp, content });
  }
  return { path, entries };
}

/** Paths of the checkout whose status or file changed from `before` to `after`, sorted. Pure. */
export function checkoutChanges(before: CheckoutSnapshot, after: CheckoutSnapshot): string[] {
  const changed: string[] = [];
  for (const file of new Set([...before.entries.keys(), ...after.entries.keys()])) {
    if (before.entries.get(file)?.stamp !== after.entries.get(file)?.stamp) changed.push(file);
  }
  return changed.sort();
}

/**
 * Puts the checkout back as `before` had it; what is there now is copied under `aside` first.
 * Returns the paths that had changed, each marked when it could not be put back.
 */
export async function undoCheckoutChanges(gitDir: string, before: CheckoutSnapshot, aside: string): Promise<string[]> {
  const after = await snapshotCheckout(gitDir);
  if (after === undefined || after.path !== before.path) return [];
  const changed = checkoutChanges(before, after);
  const undone: string[] = [];
  const fromHead: string[] = [];
  for (const file of changed) {
    const full = join(before.path, file);
    const now = await lstat(full).catch(() => undefined);
    if (now !== undefined && !now.isDirectory()) {
      await mkdir(dirname(join(aside, file)), { recursive: true });
      await copyFile(full, join(aside, file)).catch(() => undefined);
    }
    const was = before.entries.get(file);
    if (was === undefined) {
      // Clean (or absent) before the stage: a file it added goes, a tracked one comes back from HEAD.
      if (after.entries.get(file)?.stamp.startsWith('??') === true) await rm(full, { force: true });
      else fromHead.push(file);
      undone.push(file);
    } else if (was.content !== undefined) {
      await rm(full, { force: true, recursive: true });
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, was.content, 'latin1');
      undone.push(file);
    } else {
      undone.push(`${file} (too big to put back: left as the stage made it)`);
    }
  }
  if (fromHead.length > 0) {
    await git(['restore', '--source=HEAD', '--staged', '--worktree', '--pathspec-from-file=-', '--pathspec-file-nul'], {
      cwd: before.path,
      input: fromHead.join('\0'),
      env: LITERAL_PATHSPECS,
    });
  }
  return undone;
}
