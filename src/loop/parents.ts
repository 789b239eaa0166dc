/**
 * The parents' worktrees for A/B benches (the bench or the holdout paired): leased to one
 * candidate at a time, so two benches never run the parent in one folder at once; a free one at
 * the best's commit is reused, one at an older best is removed when it comes back.
 */
import { measuresParent } from '../plan/bench-plan.js';
import type { RunContext } from './run-context.js';

export interface ParentLease {
  commit: string;
  path: string;
}

export class ParentWorktrees {
  private readonly idle: ParentLease[] = [];
  private made = 0;

  constructor(private readonly run: RunContext) {}

  /** A worktree at `commit` for this candidate alone; undefined when the bench measures no parent. */
  async acquire(commit: string): Promise<ParentLease | undefined> {
    if (!measuresParent(this.run.spec)) return undefined;
    for (let i = this.idle.findIndex((l) => l.commit === commit); i >= 0; i = this.idle.findIndex((l) => l.commit === commit)) {
      const [lease] = this.idle.splice(i, 1);
      // Outside the sandbox a candidate can reach the parent's worktree; one it broke is made anew.
      if (lease !== undefined && (await this.run.workspace.worktreeLinkOk(lease.path))) return lease;
      if (lease !== undefined) await this.remove(lease);
    }
    this.made += 1;
    const name = `parent-${commit.slice(0, 10)}${this.made === 1 ? '' : `-${this.made}`}`;
    const wt = await this.run.workspace.createWorktree({ ref: `refs/ratchet/${this.run.runId}/parent`, commit, name });
    return { commit, path: wt.path };
  }

  /** Gives a lease back: kept for the next candidate while its commit is the best. */
  async release(lease: ParentLease | undefined): Promise<void> {
    if (lease === undefined) return;
    const best = this.run.store.getState().best?.commit;
    if (lease.commit === best) this.idle.push(lease);
    else await this.remove(lease);
    for (const stale of this.idle.filter((l) => l.commit !== best)) {
      this.idle.splice(this.idle.indexOf(stale), 1);
      await this.remove(stale);
    }
  }

  async dispose(): Promise<void> {
    for (const lease of this.idle.splice(0)) await this.remove(lease);
  }

  private async remove(lease: ParentLease): Promise<void> {
    await this.run.workspace.removeWorktree(lease.path).catch(() => undefined);
  }
}
