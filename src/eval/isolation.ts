/**
 * Stage isolation on the worker: every stage starts from the committed tree plus setup's
 * outputs, and whatever a stage did beyond its worktree is found, undone and turned into a
 * `rejected` outcome: a protected file it touched, a ref or HEAD it moved, a `.git` link it broke.
 *
 * Setup starts from the committed tree alone. The worktree as setup left it is recorded (in
 * memory, for the last few worktrees); a later stage first puts the worktree back to it, and
 * when that is impossible (the stage changed setup's own files) setup runs again. A worker that
 * never set the worktree up (another process did) runs setup first, so it always knows.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckoutGuard, CheckoutRecord } from '../domain/checkout-guard.js';
import type { RepoSnapshot } from '../domain/workspace.js';
import type { EvaluationRequest, StageKind } from '../domain/evaluation.js';
import type { BenchSlot } from './stage-results.js';

/** A request with the place this worker runs it in: its repository and its own worktrees. */
export interface LocatedRequest extends EvaluationRequest {
  gitDir: string;
  worktree: string;
  /** The parent's worktree, when the request measures the parent beside the candidate. */
  parentWorktree: string | undefined;
  /** The worker's folder for this experiment's stage logs (sent on to the run folder by the queue). */
  logDir: string;
  /** The worker's bench slot, lent to the stage (stage-results.ts, StageExecutor); none: the stage holds one already. */
  benchSlot?: BenchSlot | undefined;
  /** Worktrees clean at their commit with no stage run in them since (EvalPlace.fresh). */
  fresh: ReadonlySet<string>;
  /** Worktrees handed over uncleaned from an earlier experiment (EvalPlace.carried). */
  carried: ReadonlySet<string>;
  /** Worktrees whose HEAD and index only ratchet wrote (EvalPlace.trusted). */
  trusted: ReadonlySet<string>;
  /**
   * Set when a command of this stage ran outside the sandbox, or a worktree could not be made
   * clean: its worktrees are not pooled (git/eval-checkouts.ts).
   */
  ran: { unsandboxed: boolean; unfit?: boolean };
}

export interface Checkout {
  side: 'candidate' | 'parent';
  worktree: string;
  commit: string;
}

export function checkoutsOf(request: LocatedRequest, withParent: boolean): Checkout[] {
  const own: Checkout = { side: 'candidate', worktree: request.worktree, commit: request.commit };
  if (!withParent || request.parentWorktree === undefined || request.parentCommit === undefined) return [own];
  return [own, { side: 'parent', worktree: request.parentWorktree, commit: request.parentCommit }];
}

/** Most recently used records, bounded: a record holds a stamp per file of the worktree. */
export class RecordCache {
  private readonly records = new Map<string, CheckoutRecord>();
  constructor(private readonly limit = 8) {}

  /**
   * The worktree's `.git` link is part of the key: a pooled worktree's path comes back for other
   * experiments, and the pool writes the link anew each time it hands the worktree out, so a
   * record taken before is never found for it again (git/pool.ts).
   */
  private static key(checkout: Checkout): string {
    return `${checkout.worktree}@${checkout.commit}@${linkStamp(checkout.worktree)}`;
  }

  get(checkout: Checkout): CheckoutRecord | undefined {
    const key = RecordCache.key(checkout);
    const record = this.records.get(key);
    if (record !== undefined) {
      this.records.delete(key);
      this.records.set(key, record);
    }
    return record;
  }

  set(checkout: Checkout, record: CheckoutRecord): void {
    const key = RecordCache.key(checkout);
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > this.limit) this.records.delete(this.records.keys().next().value!);
  }

  delete(checkout: Checkout): void {
    this.records.delete(RecordCache.key(checkout));
  }
}

function linkStamp(worktree: string): string {
  try {
    const link = lstatSync(join(worktree, '.git'));
    return `${link.ino}:${link.ctimeMs}:${link.mtimeMs}`;
  } catch {
    return 'none';
  }
}

export type Prepared = { ok: true; record: CheckoutRecord } | { ok: false; reason: string };

/**
 * The worktree back as setup left it. `{ ok: false }` with a reason when it cannot be used at
 * all (its git link is gone for good); `undefined` when setup has to run (again).
 */
export async function restoreCheckout(
  guard: CheckoutGuard,
  records: RecordCache,
  request: LocatedRequest,
  checkout: Checkout,
  note: (text: string) => Promise<void>,
): Promise<Prepared | undefined> {
  if (!(await guard.linkOk(checkout.worktree, request.gitDir))) {
    if (!(await guard.repairLink(checkout.worktree, request.gitDir))) {
      return { ok: false, reason: `the ${checkout.side} worktree ${checkout.worktree} lost its git link and cannot be repaired` };
    }
    await note(`repaired the ${checkout.side} worktree's git link`);
  }
  const known = records.get(checkout);
  if (known === undefined) {
    // Without a setup command there is nothing to say: the worktree is only checked out.
    if ((request.spec.setup ?? '').trim() !== '') await note(`the ${checkout.side} worktree was not set up by this worker: setting it up first`);
    return undefined;
  }
  const restored = await guard.restore(checkout.worktree, known, { indexTrusted: request.trusted.has(checkout.worktree) });
  if (!restored.ok) {
    const some = restored.setupChanged.slice(0, 3).join(', ');
    await note(`setup's outputs in the ${checkout.side} worktree changed (${some}${restored.setupChanged.length > 3 ? ', …' : ''}): setting it up again`);
    records.delete(checkout);
    return undefined;
  }
  records.set(checkout, restored.record);
  const { restored: back, removed } = restored;
  if (back.length + removed.length > 0) {
    await note(`put the ${checkout.side} worktree back as setup left it (${back.length} restored, ${removed.length} removed)`);
  }
  return { ok: true, record: restored.record };
}

/**
 * What a stage did beyond what it may: one reason, or undefined. Undoes it as it goes (refs and
 * HEADs put back, the git link repaired, protected files restored before the next stage).
 */
export async function stageViolations(
  guard: CheckoutGuard,
  request: LocatedRequest,
  stage: StageKind,
  sides: readonly { checkout: Checkout; record: CheckoutRecord }[],
  /** The repository before the stage; undefined when the stage was to run sandboxed (nothing of it writable). */
  before: RepoSnapshot | undefined,
  /** Whether a command of the stage ran outside the sandbox, where it could reach the user's checkout. */
  unsandboxed: boolean,
): Promise<string | undefined> {
  const problems: string[] = [];
  const broken = new Set<Checkout>();
  for (const { checkout } of sides) {
    if (await guard.linkOk(checkout.worktree, request.gitDir)) continue;
    broken.add(checkout);
    problems.push(`deleted or corrupted its worktree's git link (.git) during ${stage}`);
    await guard.repairLink(checkout.worktree, request.gitDir);
  }
  const undone = before === undefined ? [] : await guard.undoRepoChanges(request.gitDir, before);
  if (undone.length > 0) {
    problems.push(`${undone.slice(0, 3).join(', ')}${undone.length > 3 ? `, and ${undone.length - 3} more` : ''} in the repository during ${stage} (put back)`);
  }
  if (unsandboxed && before !== undefined) {
    const wrote = await guard.undoCheckoutChanges(request.gitDir, before, join(request.logDir, `${stage}-checkout`));
    if (wrote.length > 0) {
      const more = wrote.length > 3 ? `, and ${wrote.length - 3} more` : '';
      problems.push(`wrote ${wrote.slice(0, 3).join(', ')}${more} in the user's checkout during ${stage} (put back; a copy of what it left is in ${join(request.logDir, `${stage}-checkout`)} on the worker)`);
    }
  }
  for (const { checkout, record } of sides) {
    if (broken.has(checkout)) continue;
    const touched = await guard.protectedTouched(checkout.worktree, record, request.spec.protected);
    if (touched.length === 0) continue;
    const more = touched.length > 1 ? ` and ${touched.length - 1} more` : '';
    problems.push(`changed protected path ${touched[0]}${more} during ${stage}${checkout.side === 'parent' ? ' (in the parent worktree)' : ''}`);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
