/**
 * Re-applying a candidate on a newer best: a three-way cherry-pick of its commit in its own
 * (detached) worktree, committed with `commit-tree` like every ratchet commit (no hooks, no
 * identity needed). Metadata (HEAD, the experiment's ref) moves under the repository lock, given
 * by the caller as `locked`.
 */
import type { Reapplied, Worktree } from '../domain/workspace.js';
import { git, RATCHET_IDENTITY, splitNul } from './exec.js';
import { describeCommit } from './patch.js';

export async function reapplyCommit(
  worktree: Worktree,
  commit: string,
  onto: string,
  locked: <T>(fn: () => Promise<T>) => Promise<T>,
  options: { maxPatchBytes?: number } = {},
): Promise<Reapplied> {
  const cwd = worktree.path;
  await startAt(cwd, onto);
  const picked = await git(['cherry-pick', '--no-commit', '--no-rerere-autoupdate', commit], { cwd, allowFailure: true, env: RATCHET_IDENTITY });
  if (picked.exitCode !== 0) {
    const files = splitNul((await git(['diff', '--name-only', '-z', '--diff-filter=U'], { cwd, allowFailure: true })).stdout);
    const said = (picked.stderr.split('\n').find((l) => l.trim() !== '' && !l.startsWith('hint:')) ?? `exit ${picked.exitCode}`).trim();
    await startAt(cwd, onto);
    const reason = files.length > 0 ? `does not apply on the new best: ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''} conflict` : `does not apply on the new best: ${said}`;
    return { kind: 'conflict', files, reason };
  }
  const tree = (await git(['write-tree'], { cwd })).stdout;
  const ontoTree = (await git(['rev-parse', `${onto}^{tree}`], { cwd })).stdout;
  await git(['cherry-pick', '--quit'], { cwd, allowFailure: true });
  if (tree === ontoTree) {
    await startAt(cwd, onto);
    return { kind: 'empty' };
  }
  const message = (await git(['log', '-1', '--format=%B', commit], { cwd })).stdout;
  const made = (await git(['commit-tree', '--no-gpg-sign', '-p', onto, '-F', '-', tree], { cwd, input: message.endsWith('\n') ? message : `${message}\n`, env: RATCHET_IDENTITY })).stdout;
  await locked(() =>
    git(['update-ref', '--stdin', '-m', 'ratchet: re-apply'], { cwd, input: `option no-deref\nupdate HEAD ${made} ${onto}\nupdate ${worktree.ref} ${made}\n` }),
  );
  return { kind: 'applied', commit: await describeCommit(cwd, onto, made, options.maxPatchBytes === undefined ? {} : { maxPatchBytes: options.maxPatchBytes }) };
}

/** The worktree clean at `onto` (what setup left is removed too: the stages set it up again). */
async function startAt(cwd: string, onto: string): Promise<void> {
  await git(['cherry-pick', '--quit'], { cwd, allowFailure: true });
  await git(['reset', '--quiet', '--hard', onto], { cwd });
  await git(['clean', '-ffdxq'], { cwd });
}
