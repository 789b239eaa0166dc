/**
 * A worktree's files as stamps (kind, inode, size, mode, change time), so ratchet can tell what a
 * stage changed without hashing anything: a write, a rename over a file, a chmod or a touch all
 * change the stamp, and the change time cannot be set back by the candidate.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { underRoots } from '../plan/path-policy.js';

/** Path (relative, `/`-separated) → stamp. The worktree's own `.git` link is left out. */
export type TreeState = ReadonlyMap<string, string>;

export interface TreeChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

function stampOf(info: Stats): { kind: string; stamp: string } {
  const kind = info.isSymbolicLink() ? 'l' : info.isDirectory() ? 'd' : info.isFile() ? 'f' : 'o';
  // A folder's own times change with every entry added or removed; its entries say that already.
  if (kind === 'd') return { kind, stamp: `d:${info.mode}` };
  return { kind, stamp: `${kind}:${info.ino}:${info.size}:${info.mode}:${info.mtimeMs}:${info.ctimeMs}` };
}

/** The stamp of one path, or undefined when it is gone. */
export function stampPath(path: string): string | undefined {
  try {
    return stampOf(lstatSync(path)).stamp;
  } catch {
    return undefined;
  }
}

const YIELD_EVERY = 2_000;

/**
 * Stamps of every file, link and folder under `root` (keys prefixed with `prefix`), symlinks not
 * followed. Synchronous calls, which are several times faster than a promise per file on a
 * large tree, with a yield to the event loop every few thousand entries so timers (a job lock's
 * renewal) still run.
 */
export async function readTreeState(root: string, prefix = ''): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const pending: { dir: string; prefix: string }[] = [{ dir: root, prefix }];
  let seen = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let names: string[];
    try {
      names = readdirSync(next.dir);
    } catch {
      continue; // gone or unreadable meanwhile: what is missing shows as removed
    }
    for (const name of names) {
      if (next.prefix === '' && name === '.git') continue;
      const path = next.prefix === '' ? name : `${next.prefix}/${name}`;
      const full = join(next.dir, name);
      let info;
      try {
        info = lstatSync(full);
      } catch {
        continue;
      }
      const { kind, stamp } = stampOf(info);
      state.set(path, stamp);
      if (kind === 'd') pending.push({ dir: full, prefix: path });
      if (++seen % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return state;
}

/**
 * The part of the worktree's state at or under `paths` (repository-relative), exactly as the
 * whole walk would see it; undefined when the way to one of them is not plain folders (a link
 * or a file on the way would make this see something else than the whole walk does).
 */
export async function readTreeStateAt(root: string, paths: readonly string[]): Promise<Map<string, string> | undefined> {
  const state = new Map<string, string>();
  for (const path of paths) {
    const parts = path.split('/');
    if (parts[0] === '.git') return undefined; // the whole walk leaves the link out
    for (let depth = 1; depth < parts.length; depth++) {
      const folder = stampPath(join(root, ...parts.slice(0, depth)));
      if (folder === undefined) break; // a missing folder on the way: nothing under it either
      if (!folder.startsWith('d:')) return undefined;
    }
    const stamp = stampPath(join(root, path));
    if (stamp === undefined) continue;
    state.set(path, stamp);
    if (stamp.startsWith('d:')) for (const [under, s] of await readTreeState(join(root, path), path)) state.set(under, s);
  }
  return state;
}

/** The entries of `state` at or under `paths`. Pure. */
export function treeStateAt(state: TreeState, paths: readonly string[]): Map<string, string> {
  const part = new Map<string, string>();
  for (const [path, stamp] of state) {
    if (underRoots(path, paths)) part.set(path, stamp);
  }
  return part;
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
