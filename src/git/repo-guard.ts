/**
 * The user's repository is safe: before a stage ratchet takes a snapshot of the repository's
 * refs, the HEAD of every checkout that is not ratchet's, its config and its hooks; after the
 * stage, anything that changed is put back and named, and the candidate is rejected for it.
 * A moved branch, a new tag, a rewritten HEAD or a hook planted for the user's next commit all
 * count. (Inside the sandbox the git data is read-only, so this only ever fires without it.)
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RepoSnapshot } from '../domain/workspace.js';
import { git } from './exec.js';
import { withRepoLock } from './lock.js';
import { snapshotCheckout } from './user-checkout.js';

/** Refs ratchet's runs own (every run's, not just this one's: runs may share a repository). */
export const RATCHET_REF_PREFIXES = ['refs/heads/ratchet/', 'refs/ratchet/'];

async function refsOf(gitDir: string): Promise<Map<string, string>> {
  const { stdout } = await git(['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)'], { cwd: gitDir });
  const refs = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const name = line.slice(space + 1);
    if (!RATCHET_REF_PREFIXES.some((prefix) => name.startsWith(prefix))) refs.set(name, line.slice(0, space));
  }
  return refs;
}

/** Files of the git dir whose change would reach the user: HEADs of their checkouts, config, hooks. */
async function watchedFiles(gitDir: string): Promise<string[]> {
  const files = ['HEAD', 'config'];
  for (const hook of await readdir(join(gitDir, 'hooks')).catch(() => [] as string[])) files.push(`hooks/${hook}`);
  for (const name of await readdir(join(gitDir, 'worktrees')).catch(() => [] as string[])) {
    // ratchet's own worktrees live under <git dir>/ratchet; their HEADs are the candidates'.
    const back = await readFile(join(gitDir, 'worktrees', name, 'gitdir'), 'utf8').catch(() => '');
    if (!back.startsWith(join(gitDir, 'ratchet'))) files.push(`worktrees/${name}/HEAD`);
  }
  return files;
}

/** With `checkout`, the user's checkout's files too (user-checkout.ts). */
export async function snapshotRepo(gitDir: string, options: { checkout?: boolean } = {}): Promise<RepoSnapshot> {
  const [refs, files, checkout] = await Promise.all([refsOf(gitDir), withRepoLock(gitDir, () => readWatched(gitDir)), options.checkout === true ? snapshotCheckout(gitDir) : undefined]);
  return { refs, files, checkout };
}

/**
 * The watched files' contents, under the worktrees lock: a worktree ratchet is adding has an
 * admin folder before its `gitdir` says it is ratchet's (and one it removes loses it first), so
 * read meanwhile it looked like a checkout of the user's that appeared or vanished, a violation
 * charged to whichever candidate's stage was being watched.
 */
async function readWatched(gitDir: string): Promise<Map<string, string | undefined>> {
  const files = new Map<string, string | undefined>();
  const names = await watchedFiles(gitDir);
  await Promise.all(names.map(async (name) => files.set(name, await readFile(join(gitDir, name), 'latin1').catch(() => undefined))));
  return files;
}

/** What changed from `before` to `after`, one phrase each (`moved refs/heads/main`). Pure. */
export function repoChanges(before: RepoSnapshot, after: RepoSnapshot): string[] {
  const changes: string[] = [];
  for (const [ref, sha] of after.refs) {
    const was = before.refs.get(ref);
    if (was === undefined) changes.push(`created ${ref}`);
    else if (was !== sha) changes.push(`moved ${ref}`);
  }
  for (const ref of before.refs.keys()) if (!after.refs.has(ref)) changes.push(`deleted ${ref}`);
  for (const name of new Set([...before.files.keys(), ...after.files.keys()])) {
    const was = before.files.get(name);
    const now = after.files.get(name);
    if (was === now) continue;
    changes.push(was === undefined ? `created ${name}` : now === undefined ? `deleted ${name}` : `changed ${name}`);
  }
  return changes.sort();
}

/** Puts back whatever changed since `before`; returns what it put back (empty: nothing changed). */
export async function undoRepoChanges(gitDir: string, before: RepoSnapshot): Promise<string[]> {
  const after = await snapshotRepo(gitDir);
  const changes = repoChanges(before, after);
  if (changes.length === 0) return [];
  const commands = ['option no-deref'];
  for (const [ref, sha] of before.refs) if (after.refs.get(ref) !== sha) commands.push(`update ${ref} ${sha}`);
  for (const ref of after.refs.keys()) if (!before.refs.has(ref)) commands.push(`delete ${ref}`);
  if (commands.length > 1) await git(['--git-dir', gitDir, 'update-ref', '--stdin', '-m', 'ratchet: undo a candidate'], { cwd: gitDir, input: `${commands.join('\n')}\n` });
  for (const [name, now] of after.files) {
    const was = before.files.get(name);
    if (was === now) continue;
    if (was === undefined) await rm(join(gitDir, name), { force: true, recursive: true });
    else await restoreFile(join(gitDir, name), was);
  }
  for (const [name, was] of before.files) {
    if (was !== undefined && !after.files.has(name)) await restoreFile(join(gitDir, name), was);
  }
  return changes;
}

async function restoreFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, 'latin1');
}
