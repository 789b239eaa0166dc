/**
 * Stage isolation cost, for bench/sandbox-cost.ts: what the worker does around every stage, with
 * or without the sandbox (src/eval/isolation.ts): check the `.git` link and put the worktree back
 * as setup left it before; snapshot the repository's refs around the commands; check the link,
 * undo repository changes and look for touched protected files after. Per stage, not per command.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckoutRecord } from '../src/domain/checkout-guard.js';
import type { RepoSnapshot } from '../src/domain/workspace.js';
import { checkoutMounts } from '../src/eval/stage-sandbox.js';
import { mulberry32 } from '../src/plan/stats.js';
import { GitCheckoutGuard } from '../src/git/checkout-guard.js';
import { interleave, summary, timed, type Arm, type Summary } from './interleave.js';
import { addWorktree, makeRepo, nodeModules, writeFiles } from './sandbox-fixture.js';

export const PARTS = ['restore', 'snapshot_repo', 'undo_repo_changes', 'protected_touched', 'link_checks'] as const;
export type Part = (typeof PARTS)[number];

export interface StageFigures {
  /** Files in the worktree as setup left it, tracked and untracked. */
  files: number;
  /** The stage wrote 10 new files and changed a tracked one, so the restore has work to do. */
  dirty: boolean;
  total: Summary;
  parts: Record<Part, Summary>;
  /** Building the sandbox's mounts from this worktree's record, done for every command of a stage. */
  mount_building: Summary;
}

const WARMUP = 3;

export async function stageIsolation(root: string, rounds: number, globs: readonly string[]): Promise<Record<string, StageFigures>> {
  const guard = new GitCheckoutGuard();
  const repo = await makeRepo(join(root, 'repo-stage'), 178, 18);
  // Both cells of a worktree share its record: each restore hands on the stamps the next starts from.
  const cells: Record<string, { worktree: string; state: { record: CheckoutRecord }; dirty: boolean; files: number }> = {};
  for (const [size, packages] of [['200', 0], ['20000', 400]] as const) {
    const worktree = await addWorktree(repo, `stage-${size}`);
    await guard.clean(worktree, repo.commit);
    // What setup leaves: an `npm install` of 400 packages of 50 files, all ignored by git.
    if (packages > 0) await writeFiles(worktree, nodeModules(packages, 50));
    const state = { record: await guard.record(worktree, repo.commit) };
    const files = [...state.record.tree.values()].filter((stamp) => stamp.startsWith('f:')).length;
    for (const dirty of [false, true]) cells[`${size}_files${dirty ? '_dirty' : ''}`] = { worktree, state, dirty, files };
  }

  const times: Record<string, Record<Part | 'total', number[]>> = {};
  const arms: Record<string, Arm> = {};
  for (const [name, cell] of Object.entries(cells)) {
    const t: Record<Part | 'total', number[]> = { restore: [], snapshot_repo: [], undo_repo_changes: [], protected_touched: [], link_checks: [], total: [] };
    times[name] = t;
    const run = async (): Promise<void> => {
      if (cell.dirty) {
        await writeFiles(cell.worktree, new Map(Array.from({ length: 10 }, (_, i) => [`out/result-${i}.txt`, 'x\n'])));
        await writeFile(join(cell.worktree, 'src/part-0/mod-1.js'), 'export const v1 = -1;\n');
      }
      const now: Record<Part, number> = { restore: 0, snapshot_repo: 0, undo_repo_changes: 0, protected_touched: 0, link_checks: 0 };
      now.link_checks += await timed(() => guard.linkOk(cell.worktree, repo.gitDir));
      now.restore = await timed(async () => {
        const restored = await guard.restore(cell.worktree, cell.state.record);
        if (!restored.ok) throw new Error(`restore: ${restored.setupChanged.join(', ')}`);
        cell.state.record = restored.record;
      });
      let before: RepoSnapshot | undefined;
      now.snapshot_repo = await timed(async () => (before = await guard.snapshotRepo(repo.gitDir)));
      // The stage's commands run here.
      now.link_checks += await timed(() => guard.linkOk(cell.worktree, repo.gitDir));
      now.undo_repo_changes = await timed(() => guard.undoRepoChanges(repo.gitDir, before!));
      now.protected_touched = await timed(() => guard.protectedTouched(cell.worktree, cell.state.record, globs));
      for (const part of PARTS) t[part].push(now[part]);
      t.total.push(PARTS.reduce((sum, part) => sum + now[part], 0));
    };
    arms[name] = { run };
  }
  await interleave(arms, rounds, WARMUP, mulberry32(2), 'stages');

  const figures: Record<string, StageFigures> = {};
  for (const [name, cell] of Object.entries(cells)) {
    // What was timed in the warmup rounds is not a figure.
    const of = (part: Part | 'total') => summary(times[name]![part].slice(WARMUP));
    const building: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      checkoutMounts({ gitDir: repo.gitDir, worktree: cell.worktree, tree: cell.state.record.tree, protected: globs, wholeFolders: true, sandboxPaths: [] });
      building.push(performance.now() - started);
    }
    const parts = Object.fromEntries(PARTS.map((part) => [part, of(part)])) as Record<Part, Summary>;
    figures[name] = { files: cell.files, dirty: cell.dirty, total: of('total'), parts, mount_building: summary(building) };
  }
  return figures;
}
