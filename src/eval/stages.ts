/**
 * Runs one stage (setup, checks or bench) of one EvaluationRequest through the CommandRunner,
 * each command in the stage's sandbox, each stage isolated (isolation.ts), and maps what
 * happened to outcomes: failures are data, only an abort throws.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { benchPlan, holdoutBench, roundCap, type BenchPlan } from '../plan/bench-plan.js';
import { benchSeeds } from '../plan/seeds.js';
import { median } from '../plan/stats.js';
import { throwIfAborted } from '../domain/errors.js';
import type { CheckoutGuard, CheckoutRecord, EvalCheckouts } from '../domain/checkout-guard.js';
import type { CommandResult, CommandRunner, SandboxRequest } from '../domain/command-runner.js';
import type { BenchSample, StageKind, StageOutcome } from '../domain/evaluation.js';
import { readMetric, readSecondary } from './metric.js';
import { commandLimits } from '../domain/spec.js';
import { checkoutsOf, RecordCache, restoreCheckout, stageViolations, type Checkout, type LocatedRequest } from './isolation.js';
import { failureOf, outcome, ratchetEnv, rejectedStage, tailLines, type BenchPolicy, type StageExecutor } from './stage-results.js';
import type { StageResult } from '../domain/job.js';
import type { RepoSnapshot } from '../domain/workspace.js';
import { stageSandbox } from './stage-sandbox.js';
import { reuseSetup, SetupMemory } from './setup-reuse.js';
import type { BenchSpec } from '../domain/spec.js';
import { shellWord } from '../util/shell.js';
import { matchesAny } from '../plan/path-policy.js';

export { ratchetEnv, RATCHET_ENV, tailLines, type BenchPolicy, type StageExecutor } from './stage-results.js';


export interface StageExecutorOptions {
  /** Adaptive stopping; without one the bench runs exactly `bench.repeat` rounds. */
  policy?: BenchPolicy;
  /** Lines of output kept as `failureTail`. */
  tailLines?: number;
  /**
   * Whether bubblewrap works here, as the runner finds it (what `sandbox: auto` resolves to).
   * Without it, `auto` is taken to run commands unsandboxed, and the user's checkout is watched.
   */
  sandboxWorks?: () => Promise<boolean>;
}

/** A stage expected to run sandboxed whose command did not: the user's checkout was not watched, so nothing vouches for it. */
function unwatched(stage: StageKind, unsandboxed: boolean, watched: boolean): string | undefined {
  return unsandboxed && !watched ? `a command of ${stage} ran outside the sandbox, which was expected to work here, so the user's checkout was not watched` : undefined;
}

type Ready = { ok: true; record: CheckoutRecord } | { ok: false; result: StageResult };
/** `ran`: setup's command, when it ran; `reused`: why it did not need to (setup.inputs). */
type SetUp = { ok: true; record: CheckoutRecord; ran: CommandResult | undefined; reused?: string } | { ok: false; result: StageResult };

/** The request's bench plan: paired when it has a parent worktree; the calibration's seeds when it carries them. */
function planOf(request: LocatedRequest, spec: BenchSpec): BenchPlan {
  return benchPlan(spec, { parent: request.parentWorktree !== undefined && request.parentCommit !== undefined, seeds: request.seeds });
}

/**
 * `checkouts` gives each request its repository and worktrees on this worker; `guard` keeps
 * every stage in them isolated.
 */
export function createStageExecutor(runner: CommandRunner, guard: CheckoutGuard, checkouts: EvalCheckouts, options: StageExecutorOptions = {}): StageExecutor {
  const keepLines = options.tailLines ?? 60;
  /**
   * Whether a stage's commands may run outside bubblewrap (`none`, or `auto` where it does not
   * work): only then are the repository and the user's checkout (a `git status` of all of it)
   * snapshotted around it. Inside the sandbox the git data is read-only and the user's checkout
   * not there at all, so a snapshot could find nothing; a command that ran outside it anyway is
   * a rejection of its own (`unwatched`).
   */
  const mayRunUnsandboxed = async (request: LocatedRequest): Promise<boolean> =>
    request.spec.sandbox === 'none' || (request.spec.sandbox === 'auto' && !((await options.sandboxWorks?.()) ?? false));
  /** Before a stage: whether it is watched, and (then) the repository and user's checkout as they were. */
  const watchFor = async (request: LocatedRequest): Promise<{ watched: boolean; before: RepoSnapshot | undefined }> => {
    const watched = await mayRunUnsandboxed(request);
    return { watched, before: watched ? await guard.snapshotRepo(request.gitDir, { checkout: true }) : undefined };
  };
  // The worktrees as setup left them: a parent set up once (often when it was itself the
  // candidate) is not set up again by every candidate built on it.
  const records = new RecordCache();
  // What setup last left in each worktree, for the next experiment handed the worktree (setup.inputs).
  const lastSetups = new SetupMemory();

  // A stage's mounts depend on its record alone: worked out once per stage, not per command
  // (on a large worktree, matching every path against the protected globs takes a while).
  const mounts = new WeakMap<CheckoutRecord, Map<string, SandboxRequest>>();
  const sandboxOf = (request: LocatedRequest, stage: StageKind, worktree: string, record: CheckoutRecord): SandboxRequest => {
    const known = mounts.get(record) ?? new Map<string, SandboxRequest>();
    mounts.set(record, known);
    const key = `${stage}\0${worktree}`;
    const found = known.get(key) ?? stageSandbox(request, stage, worktree, record);
    known.set(key, found);
    return found;
  };

  const exec = async (request: LocatedRequest, stage: StageKind, checkout: Checkout, record: CheckoutRecord, command: string, timeoutMs: number, log: string, signal: AbortSignal, seed?: number): Promise<CommandResult> => {
    throwIfAborted(signal);
    const result = await runner.run({
      command,
      cwd: checkout.worktree,
      timeoutMs,
      logFile: log,
      env: ratchetEnv(request, stage, checkout.side, seed),
      allowEnv: request.spec.env,
      signal,
      sandbox: sandboxOf(request, stage, checkout.worktree, record),
      limits: commandLimits(request.spec),
    });
    if (result.sandboxed !== true) request.ran.unsandboxed = true;
    return result;
  };

  const noter = (log: string) => async (text: string): Promise<void> => {
    await appendFile(log, `\n==> ${text}\n`);
  };

  /** The committed tree, then setup in it, then the check of what setup did. */
  async function setUp(request: LocatedRequest, checkout: Checkout, log: string, signal: AbortSignal): Promise<SetUp> {
    if (!(await guard.linkOk(checkout.worktree, request.gitDir)) && !(await guard.repairLink(checkout.worktree, request.gitDir))) {
      const reason = `the ${checkout.side} worktree ${checkout.worktree} lost its git link and cannot be repaired`;
      return { ok: false, result: { outcomes: [outcome('setup', 'setup', 'crash', undefined, 0, reason)], failureTail: reason } };
    }
    const command = request.spec.setup;
    const parent = checkout.side === 'parent';
    const watched = await mayRunUnsandboxed(request);
    const reuse = await reuseSetup(guard, lastSetups, request, checkout, !watched, noter(log));
    if (reuse.ok) {
      records.set(checkout, reuse.record);
      return { ok: true, record: reuse.record, ran: undefined, reused: reuse.reason };
    }
    const { inputs } = reuse;
    // The evaluator is the base's, whatever the commit holds: protected paths come from the base commit.
    const clean = await guard.clean(checkout.worktree, checkout.commit, { commit: request.baseCommit, globs: request.spec.protected }, { alreadyClean: request.fresh.has(checkout.worktree) });
    // A worktree handed over uncleaned: what the clean could not remove makes it unfit for any
    // experiment. Protected paths differ from the commit on purpose (they are the base's).
    const left = request.carried.has(checkout.worktree) ? (await guard.leftovers(checkout.worktree)).filter((path) => !matchesAny(path, request.spec.protected)) : [];
    if (left.length > 0) {
      request.ran.unfit = true;
      const reason = `the ${checkout.side} worktree ${checkout.worktree} is not clean after its reset (${left.slice(0, 3).join(', ')}): it is replaced`;
      return { ok: false, result: { outcomes: [outcome('setup', 'setup', 'crash', undefined, 0, reason)], failureTail: reason } };
    }
    if (command === undefined || command.trim() === '') {
      records.set(checkout, clean);
      return { ok: true, record: clean, ran: undefined };
    }
    const subject = parent ? 'setup in the parent worktree' : 'setup';
    await noter(log)(parent ? `setup in the parent worktree (${checkout.commit} at ${checkout.worktree})` : `setup in the candidate worktree (${request.experiment} at ${checkout.commit})`);
    const before = watched ? await guard.snapshotRepo(request.gitDir, { checkout: true }) : undefined;
    const ran = await exec(request, 'setup', checkout, clean, command, request.spec.setup_timeout, log, signal);
    const failure = failureOf(ran, subject, request.spec.setup_timeout, 'failed');
    const violation = (await stageViolations(guard, request, 'setup', [{ checkout, record: clean }], before, ran.sandboxed !== true)) ?? unwatched('setup', ran.sandboxed !== true, watched);
    if (violation !== undefined) return { ok: false, result: rejectedStage('setup', violation) };
    if (failure !== undefined) {
      return { ok: false, result: { outcomes: [outcome('setup', 'setup', failure.status, ran.exitCode, ran.durationMs, failure.reason)], failureTail: tailLines(ran.output, keepLines) } };
    }
    const record = await guard.record(checkout.worktree, checkout.commit);
    records.set(checkout, record);
    if (inputs !== undefined && !watched) lastSetups.set(checkout.worktree, { record, inputs });
    return { ok: true, record, ran };
  }

  /** The worktree as setup left it, setting it up (again) when that is the only way. */
  async function prepare(request: LocatedRequest, stage: StageKind, checkout: Checkout, log: string, signal: AbortSignal): Promise<Ready> {
    const restored = await restoreCheckout(guard, records, request, checkout, noter(log));
    if (restored?.ok === true) return restored;
    if (restored !== undefined) return { ok: false, result: { outcomes: [outcome(stage, stage, 'crash', undefined, 0, restored.reason)], failureTail: restored.reason } };
    const set = await setUp(request, checkout, log, signal);
    return set.ok ? { ok: true, record: set.record } : set;
  }

  async function setup(request: LocatedRequest, signal: AbortSignal): Promise<StageResult> {
    const log = join(request.logDir, 'setup.log');
    const [own, parent] = checkoutsOf(request, planOf(request, request.spec.bench).paired);
    const first = await setUp(request, own!, log, signal);
    if (!first.ok) return first.result;
    if (first.ran === undefined && first.reused === undefined) return { outcomes: [outcome('setup', 'setup', 'skipped', undefined, 0, 'no setup command')] };
    const passed = (durationMs: number, reason: string): StageResult => ({ outcomes: [outcome('setup', 'setup', 'ok', first.ran?.exitCode, durationMs, reason)] });
    const said = first.reused ?? 'setup passed';
    if (parent === undefined) return passed(first.ran?.durationMs ?? 0, said);
    if (records.get(parent) !== undefined) {
      const again = await restoreCheckout(guard, records, request, parent, noter(log));
      if (again?.ok === true) {
        await noter(log)('setup in the parent worktree: already done by this worker');
        return passed(first.ran?.durationMs ?? 0, `${said}; the parent worktree was already set up`);
      }
    }
    const second = await setUp(request, parent, log, signal);
    if (!second.ok) return second.result;
    const both = first.reused === undefined && second.reused === undefined ? 'setup passed in the candidate and parent worktrees' : `${said} (candidate); ${second.reused ?? 'setup passed'} (parent)`;
    return passed((first.ran?.durationMs ?? 0) + (second.ran?.durationMs ?? 0), both);
  }

  async function checks(request: LocatedRequest, signal: AbortSignal): Promise<StageResult> {
    const log = join(request.logDir, 'checks.log');
    const [own] = checkoutsOf(request, false);
    const ready = await prepare(request, 'checks', own!, log, signal);
    if (!ready.ok) return ready.result;
    const { watched, before } = await watchFor(request);
    const all = request.spec.checks;
    const outcomes: StageOutcome[] = [];
    let failureTail: string | undefined;
    let unsandboxed = false;
    for (const [i, check] of all.entries()) {
      await noter(log)(`check "${check.name}" (${i + 1}/${all.length})`);
      const result = await exec(request, 'checks', own!, ready.record, check.run, check.timeout, log, signal);
      if (result.sandboxed !== true) unsandboxed = true;
      const failure = failureOf(result, `check "${check.name}"`, check.timeout, 'failed');
      if (failure === undefined) {
        outcomes.push(outcome('checks', check.name, 'ok', result.exitCode, result.durationMs, `check "${check.name}" passed`));
        continue;
      }
      outcomes.push(outcome('checks', check.name, failure.status, result.exitCode, result.durationMs, failure.reason));
      for (const rest of all.slice(i + 1)) {
        outcomes.push(outcome('checks', rest.name, 'skipped', undefined, 0, `skipped after check "${check.name}" did not pass`));
      }
      failureTail = tailLines(result.output, keepLines);
      break;
    }
    const violation = (await stageViolations(guard, request, 'checks', [{ checkout: own!, record: ready.record }], before, unsandboxed)) ?? unwatched('checks', unsandboxed, watched);
    // Breaking the rules outweighs failing a test: the rejection comes first, so it decides.
    if (violation !== undefined) return { outcomes: [...rejectedStage('checks', violation).outcomes, ...outcomes], failureTail: violation };
    return failureTail === undefined ? { outcomes } : { outcomes, failureTail };
  }

  async function bench(request: LocatedRequest, signal: AbortSignal): Promise<StageResult> {
    return measured(request, 'bench', request.spec.bench, signal);
  }

  /** The holdout (`spec.holdout`): like a bench, with the holdout folder visible to it alone. */
  async function holdout(request: LocatedRequest, signal: AbortSignal): Promise<StageResult> {
    const spec = request.spec.holdout;
    if (spec === undefined) return { outcomes: [outcome('holdout', 'holdout', 'skipped', undefined, 0, 'no holdout in the spec')] };
    const run = spec.run.replaceAll('{holdout}', shellWord(spec.dir));
    return measured(request, 'holdout', { ...holdoutBench(spec), run }, signal);
  }

  /** Each side prepared, measured, then checked for what the runs did beyond their worktrees. */
  async function measured(request: LocatedRequest, stage: 'bench' | 'holdout', spec: BenchSpec, signal: AbortSignal): Promise<StageResult> {
    const log = join(request.logDir, `${stage}.log`);
    const plan = planOf(request, spec);
    const sides: { checkout: Checkout; record: CheckoutRecord }[] = [];
    for (const checkout of checkoutsOf(request, plan.paired)) {
      const ready = await prepare(request, stage, checkout, log, signal);
      if (!ready.ok) return ready.result;
      sides.push({ checkout, record: ready.record });
    }
    const { watched, before } = await watchFor(request);
    const ran = { unsandboxed: false };
    // The slot for the measured runs alone: the next bench's worktrees are made ready while this one runs.
    const giveBack = await (request.benchSlot?.() ?? Promise.resolve(() => undefined));
    let result: StageResult;
    try {
      result = await measure(request, stage, spec, plan, sides, log, signal, ran);
    } finally {
      giveBack();
    }
    const violation = (await stageViolations(guard, request, stage, sides, before, ran.unsandboxed)) ?? unwatched(stage, ran.unsandboxed, watched);
    return violation === undefined ? result : rejectedStage(stage, violation);
  }

  async function measure(
    request: LocatedRequest,
    stage: 'bench' | 'holdout',
    spec: BenchSpec,
    plan: BenchPlan,
    sides: readonly { checkout: Checkout; record: CheckoutRecord }[],
    log: string,
    signal: AbortSignal,
    ran: { unsandboxed: boolean },
  ): Promise<StageResult> {
    const secondaryNames = [...spec.constraints.map((c) => ({ name: c.metric, pattern: c.pattern })), 'memory_gb', 'peak_vram_mb'];
    // Adaptive stopping is the bench's: the holdout runs its `repeat` rounds.
    // The calibration's runs are its seeds, all of them.
    const policy = stage === 'bench' && request.seeds === undefined ? options.policy : undefined;
    // A policy may extend any bench up to the cap (ratchet's own extends only paired ones, app/compose.ts).
    const maxRounds = policy === undefined ? plan.rounds : roundCap(spec);
    const samples: BenchSample[] = [];
    let durationMs = 0;
    let exitCode: number | undefined;

    const crash = (status: 'crash' | 'timeout', reason: string, output: string): StageResult => ({
      outcomes: [outcome(stage, stage, status, exitCode, durationMs, reason)],
      failureTail: tailLines(output, keepLines),
    });
    // One run of one side; a StageResult when it failed.
    const seeds = benchSeeds(request, sides.length > 1);
    const runOnce = async (side: { checkout: Checkout; record: CheckoutRecord }, label: string, recordIt: boolean, round: number): Promise<StageResult | undefined> => {
      const { checkout, record } = side;
      const seed = seeds(round);
      await noter(log)(`${stage} ${label} (${checkout.side}, ${checkout.commit}, seed ${seed})`);
      const result = await exec(request, stage, checkout, record, spec.run.replaceAll('{seed}', String(seed)), spec.timeout, log, signal, seed);
      if (result.sandboxed !== true) ran.unsandboxed = true;
      durationMs += result.durationMs;
      exitCode = result.exitCode;
      const suffix = checkout.side === 'parent' ? ' (parent)' : '';
      const failure = failureOf(result, stage, spec.timeout, 'exited');
      if (failure !== undefined) return crash(failure.status === 'timeout' ? 'timeout' : 'crash', failure.reason + suffix, result.output);
      // Unsandboxed, a run could rewrite the evaluator for the next run and put it back after:
      // look after every run, so such a trick ends the bench (the caller says why).
      if (result.sandboxed !== true && (await guard.protectedChanged(checkout.worktree, record, request.spec.protected))) {
        return crash('crash', `the ${stage} changed a protected file${suffix}`, result.output);
      }
      if (!recordIt) return undefined;
      const reading = readMetric(result.output, spec.metric);
      if (!reading.ok) return crash('crash', reading.reason + suffix, result.output);
      samples.push({ side: checkout.side, metric: reading.value, secondary: readSecondary(result.output, secondaryNames) });
      return undefined;
    };
    for (let i = 1; i <= spec.warmup; i++) {
      for (const side of sides) {
        const failed = await runOnce(side, `warmup ${i}/${spec.warmup}`, false, 1);
        if (failed !== undefined) return failed;
      }
    }
    for (let round = 1; round <= maxRounds; round++) {
      for (const side of sides) {
        const failed = await runOnce(side, policy === undefined ? `run ${round}/${maxRounds}` : `run ${round} (at most ${maxRounds})`, true, round);
        if (failed !== undefined) return failed;
      }
      if (policy !== undefined && policy(samples, request) === 'stop') break;
    }

    const candidate = samples.filter((s) => s.side === 'candidate');
    const metric = median(candidate.map((s) => s.metric));
    const names = new Set(candidate.flatMap((s) => Object.keys(s.secondary)));
    const secondary: Record<string, number> = Object.fromEntries(
      [...names].map((name) => [name, median(candidate.flatMap((s) => (Object.hasOwn(s.secondary, name) ? [s.secondary[name]!] : [])))]),
    );
    const how = sides.length === 2 ? `median of ${candidate.length} A/B runs` : `median of ${candidate.length} run${candidate.length === 1 ? '' : 's'}`;
    return {
      outcomes: [outcome(stage, stage, 'ok', exitCode, durationMs, `${spec.metric.name} = ${metric} (${how})`)],
      measurement: { metric, samples, secondary },
    };
  }

  const run = async (request: LocatedRequest, stage: StageKind, signal: AbortSignal): Promise<StageResult> => {
    await mkdir(request.logDir, { recursive: true });
    if (stage === 'setup') return setup(request, signal);
    if (stage === 'checks') return checks(request, signal);
    if (stage === 'holdout') return holdout(request, signal);
    return bench(request, signal);
  };

  const executor: StageExecutor = async (request, stage, signal, logDir, benchSlot) => {
    throwIfAborted(signal);
    const opened = await checkouts.open(request, signal);
    // Not a failure of the candidate: this worker has no way to the commits. Said as a verdict's reason.
    if (!opened.ok) return { outcomes: [outcome(stage, stage, 'crash', undefined, 0, opened.reason)], failureTail: opened.reason };
    const { place } = opened;
    const ran: { unsandboxed: boolean; unfit?: boolean } = { unsandboxed: false };
    try {
      return await run({ ...request, gitDir: place.gitDir, worktree: place.candidate, parentWorktree: place.parent, logDir, ran, fresh: place.fresh, carried: place.carried, trusted: place.trusted, benchSlot }, stage, signal);
    } finally {
      place.release(ran);
    }
  };
  executor.takesBenchSlot = true;
  return executor;
}
