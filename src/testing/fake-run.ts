/**
 * A whole run on fakes, for loop tests that take milliseconds: the loop's RunContext built from a
 * memory store, a fake workspace, a scripted queue and proposer, and a clock the test moves.
 */
import type { RunEvent } from '../domain/events.js';
import { specSchema, type Spec } from '../domain/spec.js';
import type { ExperimentId } from '../domain/words.js';
import type { RunContext } from '../loop/run-context.js';
import { FakeClock } from './clock.js';
import { FakeWorkspace } from './fake-workspace.js';
import { MemoryStore } from './memory-store.js';
import { ScriptedProposer, type ProposalStep } from './scripted-proposer.js';
import { ScriptedQueue, type Scripted } from './scripted-queue.js';

export const FAKE_RUN_ID = 'fake-run';
export const FAKE_BASE = 'ba5e'.padEnd(40, '0');

export interface FakeRun {
  run: RunContext;
  store: MemoryStore;
  workspace: FakeWorkspace;
  queue: ScriptedQueue;
  proposer: ScriptedProposer;
  clock: FakeClock;
}

export interface FakeRunOptions {
  proposals: readonly ProposalStep[];
  evaluations: Readonly<Record<ExperimentId, Scripted>>;
  /** Top-level spec fields over a deterministic bench (repeat 1) that maximizes `score`. */
  spec?: Record<string, unknown>;
  /** What an earlier session left: its events, repository and clock (see `resumeOf`). */
  earlier?: { events: readonly RunEvent[]; workspace: FakeWorkspace; clock: FakeClock };
}

export function fakeSpec(overrides: Record<string, unknown> = {}): Spec {
  return specSchema.parse({
    objective: 'make the score higher',
    bench: { run: 'node bench.js', metric: { name: 'score', goal: 'maximize' }, repeat: 1 },
    ...overrides,
  });
}

export function fakeRun(options: FakeRunOptions): FakeRun {
  const clock = options.earlier?.clock ?? new FakeClock();
  const workspace = options.earlier?.workspace ?? new FakeWorkspace();
  const store = new MemoryStore(FAKE_RUN_ID, clock.now, options.earlier?.events ?? []);
  const queue = new ScriptedQueue(options.evaluations, clock);
  const proposer = new ScriptedProposer(workspace, options.proposals);
  const run: RunContext = {
    runId: FAKE_RUN_ID,
    spec: fakeSpec(options.spec),
    objective: 'make the score higher',
    baseCommit: FAKE_BASE,
    store,
    workspace,
    queue,
    proposer,
    now: clock.now,
  };
  return { run, store, workspace, queue, proposer, clock };
}

/** What a new session of `previous`'s run starts from: its recorded events, its repository, its clock. */
export function resumeOf(previous: FakeRun): NonNullable<FakeRunOptions['earlier']> {
  return { events: previous.store.events, workspace: previous.workspace, clock: previous.clock };
}
