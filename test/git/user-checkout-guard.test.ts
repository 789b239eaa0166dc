import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { checkoutChanges, snapshotCheckout, undoCheckoutChanges, userCheckoutOf } from '../../src/git/user-checkout.js';
import { exists, porcelain } from '../helpers/hostile.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function repo(): Promise<{ path: string; gitDir: string; aside: string }> {
  const r = await gitdir({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'src/c.txt': 'c\n' });
  const scratch = await tempDir();
  cleanups.push(r.cleanup, scratch.cleanup);
  return { path: r.path, gitDir: join(r.path, '.git'), aside: join(scratch.path, 'aside') };
}

it("finds the user's checkout from the git dir, and none for a bare repository", async () => {
  const r = await repo();
  expect(await userCheckoutOf(r.gitDir)).toBe(r.path);
  const bare = await tempDir();
  cleanups.push(bare.cleanup);
  git(bare.path, 'init', '-q', '--bare');
  expect(await userCheckoutOf(bare.path)).toBeUndefined();
});

it("puts back what a stage wrote into the user's checkout and keeps the user's own uncommitted work", async () => {
  const r = await repo();
  // The user's work in progress: a dirty file, a staged file, an untracked note.
  await writeFile(join(r.path, 'a.txt'), 'user edit\n');
  await writeFile(join(r.path, 'b.txt'), 'user staged\n');
  git(r.path, 'add', 'b.txt');
  await writeFile(join(r.path, 'notes.md'), 'user notes\n');
  const status = porcelain(r.path);
  const before = (await snapshotCheckout(r.gitDir))!;

  // The stage: overwrites the user's dirty file, changes a clean one, deletes the note, adds a file.
  await writeFile(join(r.path, 'a.txt'), 'candidate\n');
  await writeFile(join(r.path, 'src/c.txt'), 'candidate\n');
  await writeFile(join(r.path, 'notes.md'), '');
  await mkdir(join(r.path, 'new'));
  await writeFile(join(r.path, 'new/planted.js'), 'candidate\n');
  expect(checkoutChanges(before, (await snapshotCheckout(r.gitDir))!)).toEqual(['a.txt', 'new/planted.js', 'notes.md', 'src/c.txt']);

  expect(await undoCheckoutChanges(r.gitDir, before, r.aside)).toEqual(['a.txt', 'new/planted.js', 'notes.md', 'src/c.txt']);
  expect(await readFile(join(r.path, 'a.txt'), 'utf8')).toBe('user edit\n');
  expect(await readFile(join(r.path, 'notes.md'), 'utf8')).toBe('user notes\n');
  expect(await readFile(join(r.path, 'src/c.txt'), 'utf8')).toBe('c\n');
  expect(await exists(join(r.path, 'new/planted.js'))).toBe(false);
  expect(porcelain(r.path)).toBe(status);
  // What was there is not lost: the user may have been editing at the same time.
  expect(await readFile(join(r.aside, 'src/c.txt'), 'utf8')).toBe('candidate\n');
  expect(await readFile(join(r.aside, 'new/planted.js'), 'utf8')).toBe('candidate\n');
});

it('finds nothing to put back when the checkout did not change', async () => {
  const r = await repo();
  await writeFile(join(r.path, 'a.txt'), 'user edit\n');
  const before = (await snapshotCheckout(r.gitDir))!;
  expect(await undoCheckoutChanges(r.gitDir, before, r.aside)).toEqual([]);
  expect(await exists(r.aside)).toBe(false);
});
