/**
 * A worktree's files as stamps (kind, inode, size, mode, change time), so ratchet can tell what a
 * stage changed without hashing anything: a write, a rename over a file, a chmod or a touch all
 * change the stamp, and the change time cannot be set back by the candidate.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Path (relative, `/`-separated) → stamp. The worktree's own `.git` link is left out. */
export type TreeState = ReadonlyMap<string, string>;

export interface TreeChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

function stampOf(info: Awaited<ReturnType<typeof lstat>>): { kind: string; stamp: string } {
  const kind = info.isSymbolicLink() ? 'l' : info.isDirectory() ? 'd' : info.isFile() ? 'f' : 'o';
  // A folder's own times change with every entry added or removed; its entries say that already.
  if (kind === 'd') return { kind, stamp: `d:${info.mode}` };
  return { kind, stamp: `${kind}:${info.ino}:${info.size}:${info.mode}:${info.mtimeMs}:${info.ctimeMs}` };
}

/** Stamps of every file, link and folder under `root`, symlinks not followed. */
export async function readTreeState(root: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // gone or unreadable meanwhile: what is missing shows as removed
    }
    await Promise.all(
      names.map(async (name) => {
        if (prefix === '' && name === '.git') return;
        const path = prefix === '' ? name : `${prefix}/${name}`;
        const full = join(dir, name);
        let info;
        try {
          info = await lstat(full);
        } catch {
          return;
        }
        const { kind, stamp } = stampOf(info);
        state.set(path, stamp);
        if (kind === 'd') await walk(full, path);
      }),
    );
  };
  await walk(root, '');
  return state;
}

/** What `after` added, changed and removed relative to `before`. Sorted. Pure. */
export function diffTreeStates(before: TreeState, after: TreeState): TreeChanges {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [path, stamp] of after) {
    const was = before.get(path);
    if (was === undefined) added.push(path);
    else if (was !== stamp) changed.push(path);
  }
  for (const path of before.keys()) if (!after.has(path)) removed.push(path);
  return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}

/** True when nothing was added, changed or removed. */
export function isUnchanged(changes: TreeChanges): boolean {
  return changes.added.length === 0 && changes.changed.length === 0 && changes.removed.length === 0;
}

/** Drops paths inside an added or removed folder: removing (or restoring) the folder covers them. */
export function topmost(paths: readonly string[]): string[] {
  const all = new Set(paths);
  return [...all]
    .filter((path) => {
      for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) if (all.has(path.slice(0, at))) return false;
      return true;
    })
    .sort();
}
