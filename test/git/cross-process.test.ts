import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, expect, it } from 'vitest';
import { git } from '../helpers/gitdir.js';
import { target } from './fixtures/repo.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/create-worktrees.ts', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

interface Created {
  name: string;
  path: string;
  commit: string | undefined;
}

it('creates worktrees from three processes on one repository at once', async () => {
  const t = await target();
  cleanups.push(t.cleanup);
  const children = ['a', 'b', 'c'].map((prefix) =>
    execa('node', ['--import', 'tsx', SCRIPT, t.repo, 'run1', prefix, '6'], { reject: false }),
  );
  const results = await Promise.all(children);
  for (const result of results) {
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  }
  const created = results.flatMap((result) => JSON.parse(result.stdout) as Created[]);
  expect(created).toHaveLength(18);
  const refs = await t.ws.listRefs('refs/heads/ratchet/run1/');
  for (const { name, commit } of created) {
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(refs.get(`refs/heads/ratchet/run1/${name}`)).toBe(commit);
    expect(git(t.repo, 'show', `${commit}:src/${name}.js`)).toBe(`export const name = '${name}';`);
  }
  expect(git(t.repo, 'worktree', 'list').split('\n')).toHaveLength(19);
  await expect(t.ws.reconcile(t.ws.worktreeRoot)).resolves.toHaveLength(18);
});
