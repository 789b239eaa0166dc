/**
 * Worktree bookkeeping: what git lists, where paths really are, and moving a worktree folder
 * aside so that deleting its (possibly huge) content can happen outside the repository lock.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, readdir, realpath, rename } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { DETACHED_HEAD } from './checkout.js';
import { git, splitNul } from './exec.js';

export interface ListedWorktree {
  path: string;
  /** The repository's own checkout, listed first by git. */
  main: boolean;
  /** `refs/heads/…` when a branch is checked out there. */
  branch: string | undefined;
}

/** Folders moved aside for deletion start with this; they are never reported as worktrees. */
export const TRASH_PREFIX = '.trash-';

export async function listWorktrees(repo: string): Promise<ListedWorktree[]> {
  const { stdout } = await git(['worktree', 'list', '--porcelain', '-z'], { cwd: repo });
  const worktrees: ListedWorktree[] = [];
  for (const field of splitNul(stdout)) {
    if (field.startsWith('worktree ')) {
      worktrees.push({ path: field.slice('worktree '.length), main: worktrees.length === 0, branch: undefined });
    } else if (field.startsWith('branch ')) {
      const current = worktrees.at(-1);
      if (current !== undefined) current.branch = field.slice('branch '.length);
    }
  }
  return worktrees;
}

const SYMREF = /^ref: (refs\/\S+)\n?$/;

/**
 * The branches checked out in any worktree, read from the HEAD files `worktree list` reads
 * (`<gitDir>/HEAD`, `<gitDir>/worktrees/<id>/HEAD`) without a spawn of git, which from the
 * orchestrator costs more than the reads. A worktree admin folder git would skip (no `gitdir`)
 * is counted too, which can only refuse more. Undefined when a HEAD is neither a branch nor a
 * commit, or the refs live in a reftable (HEAD files are then placeholders): ask git instead.
 */
export async function checkedOutBranches(gitDir: string): Promise<Set<string> | undefined> {
  if (await exists(join(gitDir, 'reftable'))) return undefined;
  const admins = await readdir(join(gitDir, 'worktrees')).catch(() => [] as string[]);
  const heads = [join(gitDir, 'HEAD'), ...admins.map((name) => join(gitDir, 'worktrees', name, 'HEAD'))];
  const branches = new Set<string>();
  for (const head of heads) {
    // Read synchronously: with many workers' worktrees on one repository there are a hundred
    // HEADs, and a promise's open, stat, read and close each was most of the orchestrator's CPU here.
    const text = readSmall(head);
    if (text === undefined) {
      if (head === heads[0]) return undefined;
      continue; // an admin folder without HEAD is not a worktree git lists
    }
    const branch = SYMREF.exec(text)?.[1];
    if (branch !== undefined) branches.add(branch);
    else if (!DETACHED_HEAD.test(text)) return undefined;
  }
  return branches;
}

function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
export async function canonical(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await canonical(parent), basename(absolute));
  }
}

/** Whether `path` is `folder` or lies inside it (both canonical). */
export function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** A linked worktree has a `.git` file (the main checkout a `.git` folder). */
export async function isLinkedWorktreeDir(path: string): Promise<boolean> {
  return lstat(join(path, '.git')).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Renames `path` to a trash sibling (same file system, so instant) and returns the new name. */
export async function moveAside(path: string): Promise<string> {
  const trash = join(dirname(path), `${TRASH_PREFIX}${basename(path)}-${randomBytes(4).toString('hex')}`);
  await rename(path, trash);
  return trash;
}

/** Folders directly in `root` that are linked worktrees, and leftover trash; none if no root. */
export async function scanRoot(root: string): Promise<{ worktrees: string[]; trash: string[] }> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const worktrees: string[] = [];
  const trash: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(root, entry.name);
    if (entry.name.startsWith(TRASH_PREFIX)) trash.push(path);
    else if (await isLinkedWorktreeDir(path)) worktrees.push(path);
  }
  return { worktrees, trash };
}
