/**
 * `setup.inputs` on the worker: a worktree handed over from an earlier experiment keeps what
 * setup made there when the inputs are unchanged (plan/setup-reuse.ts decides), and setup does
 * not run again. What the worker remembers per worktree is the record setup left and the inputs
 * it ran with; it is taken for another commit only through this door, never by the record
 * cache (whose key holds the `.git` link's stamp, new at every hand-over).
 */
import type { CheckoutGuard, CheckoutRecord } from '../domain/checkout-guard.js';
import { setupInputs } from '../domain/spec.js';
import { setupChangedTracked, setupReuse, type SetupInputs } from '../plan/setup-reuse.js';
import type { Checkout, LocatedRequest } from './isolation.js';

interface LastSetup {
  record: CheckoutRecord;
  inputs: SetupInputs;
}

/**
 * The last setup of each worktree (by path), for the most recently set up: more than a worker
 * keeps idle (six, and the parents' worktrees), since the one it hands on is its oldest.
 */
export class SetupMemory {
  private readonly last = new Map<string, LastSetup>();
  constructor(private readonly limit = 12) {}

  get(worktree: string): LastSetup | undefined {
    return this.last.get(worktree);
  }

  set(worktree: string, setup: LastSetup): void {
    this.last.delete(worktree);
    this.last.set(worktree, setup);
    while (this.last.size > this.limit) this.last.delete(this.last.keys().next().value!);
  }

  forget(worktree: string): void {
    this.last.delete(worktree);
  }
}

/** The inputs setup's outputs depend on at the checkout's commit. */
export async function inputsAt(guard: CheckoutGuard, request: LocatedRequest, checkout: Checkout): Promise<SetupInputs> {
  const globs = setupInputs(request.spec);
  return {
    command: request.spec.setup ?? '',
    baseCommit: request.baseCommit,
    protected: request.spec.protected,
    globs,
    files: await guard.inputs(request.gitDir, checkout.commit, globs),
  };
}

export type Carried = { ok: true; record: CheckoutRecord; reason: string } | { ok: false; reason: string };

/**
 * Setup's outputs from the worktree's last setup, carried over to the checkout's commit; or why
 * setup has to run (the caller cleans the worktree first).
 */
export async function carrySetup(guard: CheckoutGuard, memory: SetupMemory, request: LocatedRequest, checkout: Checkout, now: SetupInputs, sandboxed: boolean): Promise<Carried> {
  // Only a worktree the pool handed over as its last experiment left it: any other was cleaned.
  const last = request.carried.has(checkout.worktree) ? memory.get(checkout.worktree) : undefined;
  memory.forget(checkout.worktree);
  const decision = setupReuse({
    previous: last?.inputs,
    now,
    sandboxed,
    setupChangedTracked: last === undefined ? [] : setupChangedTracked(last.record.setupTouched, request.spec.protected),
  });
  if (!decision.reuse || last === undefined) return { ok: false, reason: decision.reason };
  const carried = await guard.carry(checkout.worktree, last.record, checkout.commit, { commit: request.baseCommit, globs: request.spec.protected });
  if (!carried.ok) {
    const some = carried.setupChanged.slice(0, 3).join(', ');
    return { ok: false, reason: `setup's outputs changed since it ran (${some}${carried.setupChanged.length > 3 ? ', …' : ''})` };
  }
  memory.set(checkout.worktree, { record: carried.record, inputs: now });
  return { ok: true, record: carried.record, reason: decision.reason };
}

export type Reuse = { ok: true; record: CheckoutRecord; reason: string } | { ok: false; inputs: SetupInputs | undefined };

/**
 * Setup's outputs carried over to the checkout's commit (said in the log); or the inputs setup
 * is to run with (undefined when the spec has none), having said why a worktree handed over is
 * set up anew, or once, outside the sandbox, why none ever is.
 */
export async function reuseSetup(
  guard: CheckoutGuard,
  memory: SetupMemory,
  request: LocatedRequest,
  checkout: Checkout,
  sandboxed: boolean,
  note: (text: string) => Promise<void>,
): Promise<Reuse> {
  const parent = checkout.side === 'parent';
  if ((request.spec.setup ?? '').trim() === '' || setupInputs(request.spec).length === 0) {
    memory.forget(checkout.worktree);
    return { ok: false, inputs: undefined };
  }
  const inputs = await inputsAt(guard, request, checkout);
  const carried = await carrySetup(guard, memory, request, checkout, inputs, sandboxed);
  if (carried.ok) {
    await note(`${carried.reason}${parent ? ' (parent worktree)' : ''}: setup did not run in ${checkout.worktree} at ${checkout.commit}`);
    return carried;
  }
  if (sandboxed ? request.carried.has(checkout.worktree) : !parent) await note(`setup runs${parent ? ' in the parent worktree' : ''}: ${carried.reason}`);
  return { ok: false, inputs };
}
