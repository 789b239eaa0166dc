/**
 * `ratchet run` and `ratchet resume` as plain async functions: resolve the spec, open the
 * target, start Redis, the queue and an in-process worker, run the loop, tidy up. The CLI
 * parses flags and prints; everything here returns data.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { checkAgentReady } from '../agents/factory.js';
import { checkBudget, type Stop } from '../plan/budget.js';
import { AbortedError, RedisLostError, isAbortError } from '../domain/errors.js';
import { runLoop } from '../loop/run-loop.js';
import type { RunContext } from '../loop/run-context.js';
import { combineStages } from '../plan/combine.js';
import { uncommitted, uncommittedNotice } from '../git/status.js';
import { GitWorkspace } from '../git/workspace.js';
import type { CommandRunner } from '../domain/command-runner.js';
import { checkoutMounts, treeOfFiles } from '../eval/stage-sandbox.js';
import { limitsNotice } from '../proc/limits.js';
import { listWorktreeFiles } from '../agents/claude/git-files.js';
import { BullEvaluationQueue } from '../queue/bullmq-queue.js';
import { openEventPublisher } from '../queue/event-stream.js';
import { startWorker, type RunningWorker } from '../queue/worker.js';
import type { SpecFlags } from '../spec/flags.js';
import { resolveSpec } from '../spec/flags.js';
import { checkHoldoutDir } from '../spec/holdout.js';
import { readSpecFile } from '../spec/load.js';
import { specError } from '../spec/validate.js';
import { resolveObjective } from '../spec/objective.js';
import { commandLimits, type Spec } from '../domain/spec.js';
import type { RunEvent } from '../domain/events.js';
import { RUN_JSON_VERSION, RunStore, readRunInfo, runDir, type RunInfo } from '../store/run-dir.js';
import { recordRun, runIndexPath } from '../store/run-index.js';
import type { RunState } from '../domain/run-state.js';
import { summarize, type RunSummary } from '../view/summary.js';
import { createRunner, createRunProposer, createWorkerCheckouts, createWorkerExecutor, processRedactor, resolveSandbox } from './compose.js';
import { PushingQueue } from './remote-queue.js';
import { checkRunJobKey, openRunRedis } from './redis.js';
import { lockRunInRepository, lockRunSession } from './session-lock.js';
import { describeStopRequest, watchStopRequest } from './stop-request.js';
import { bounded, throttled } from './bounded.js';
import { RATCHET_VERSION } from './version.js';

export interface SessionOptions {
  experimentsRoot: string;
  /** `--redis` / `REDIS_URL`; absent: a private redis-server for the run. */
  redis?: string;
  /** Run an in-process worker (default). Without it, `ratchet worker` processes serve the run. */
  inProcessWorker?: boolean;
  keepWorktrees?: boolean;
  signal: AbortSignal;
  onEvent?: (event: RunEvent, state: RunState) => void;
  onWarning?: (message: string) => void;
  /** Called once the run folder exists (the CLI prints where it is). */
  onStart?: (info: { runId: string; dir: string; redisUrl: string }) => void;
}

export interface RunOptions extends SessionOptions {
  repo: string;
  flags: SpecFlags;
  specFile?: string;
  runId?: string;
  base?: string;
}

export interface RunOutcome {
  summary: RunSummary;
  stop: Stop;
}

/** Model-driven agents run the checks themselves, so their worktree is set up before they start. */
function needsSetupFirst(spec: Spec): boolean {
  return (spec.agent.kind === 'claude' || spec.agent.kind === 'command') && spec.setup !== undefined && spec.setup.trim() !== '';
}

function setupBeforeAgent(spec: Spec, runner: CommandRunner, gitDir: string): NonNullable<RunContext['prepareWorktree']> {
  return async (worktree, logDir, signal) => {
    const files = await listWorktreeFiles(worktree);
    const result = await runner.run({
      command: spec.setup!,
      cwd: worktree,
      timeoutMs: spec.setup_timeout,
      logFile: join(logDir, 'agent-setup.log'),
      allowEnv: spec.env,
      signal,
      limits: commandLimits(spec),
      sandbox: {
        mode: spec.sandbox,
        network: spec.setup_network,
        mounts: checkoutMounts({
          gitDir,
          worktree,
          tree: treeOfFiles(files),
          protected: spec.protected,
          wholeFolders: false,
          sandboxPaths: spec.sandbox_paths,
          holdoutDir: spec.holdout?.dir,
        }),
      },
    });
    // A failed setup is not fatal here: the agent sees a worktree without it, and the
    // evaluation's own setup stage reports the failure as the experiment's verdict.
    if (result.aborted) throw new AbortedError();
  };
}

/** Whether the agent's own commands run outside bubblewrap (tune and replay run none). */
function agentRunsUnconfined(spec: Spec, sandboxed: boolean): boolean {
  const agent = spec.agent;
  if (agent.kind === 'command') return !sandboxed || !agent.sandbox;
  return agent.kind === 'claude' && !sandboxed;
}

/** A remote that is a folder, not a URL (`scheme://…`) or scp-like `host:path`. */
function isLocalPath(remote: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(remote) && !/^[^/]+:/.test(remote);
}

export function generateRunId(repo: string, now = new Date()): string {
  const slug = basename(resolve(repo)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 24) || 'run';
  return `${now.toISOString().slice(0, 10)}-${slug}-${randomBytes(2).toString('hex')}`;
}

/** The spec of a target: its ratchet.yaml (if any) with the flags over it, validated once. */
export async function resolveRunSpec(repo: string, flags: SpecFlags, specFile?: string): Promise<{ spec: Spec; source: string; specDir: string }> {
  const doc = await readSpecFile(repo, specFile === undefined ? {} : { file: specFile });
  const source = doc?.source ?? 'the command line (no ratchet.yaml)';
  const spec = resolveSpec({ fileSpecInput: doc?.input, flags, source, ...(doc ? { lineOf: doc.lineOf } : {}) });
  // A run must be resumable from anywhere: paths given relative to the caller become absolute.
  if (spec.agent.kind === 'replay' && spec.agent.patches !== undefined) spec.agent.patches = resolve(spec.agent.patches);
  // A remote given as a folder is pushed to from here and fetched from by workers elsewhere: made absolute.
  if (spec.remote !== undefined && isLocalPath(spec.remote)) spec.remote = resolve(spec.remote);
  return { spec, source, specDir: doc === undefined ? resolve(repo) : dirname(resolve(doc.source)) };
}

/** `holdout.dir` made absolute and real, once it is known to be a folder outside the repository. */
async function resolveHoldout(spec: Spec, source: string, specDir: string, workspace: GitWorkspace): Promise<void> {
  if (spec.holdout === undefined) return;
  const { dir, issues } = await checkHoldoutDir(spec, { base: specDir, repo: workspace.repo, gitDir: workspace.gitDir });
  if (dir === undefined) throw specError(source, issues);
  spec.holdout.dir = dir;
}

/** The holdout is hidden only by bubblewrap: without it, say plainly what it is worth. */
function holdoutNotice(spec: Spec, sandboxed: boolean): string | undefined {
  if (spec.holdout === undefined) return undefined;
  const agent = spec.agent;
  const agentFree = agent.kind === 'command' && !agent.sandbox;
  if (sandboxed && !agentFree) return undefined;
  const who = sandboxed ? "the command agent runs unconfined (agent.sandbox: false), so it" : "commands run unsandboxed here, so the agent's commands and the candidate's setup, checks and bench";
  return `holdout: ${who} can read the holdout folder ${spec.holdout.dir}; it still catches a change that overfits the bench by accident, not an agent that goes looking for it. Run with bubblewrap (sandbox: bwrap) to hide it`;
}

export async function startRun(options: RunOptions): Promise<RunOutcome> {
  checkRunJobKey(options.redis === undefined ? {} : { flag: options.redis }); // before anything is created
  const { spec, source, specDir } = await resolveRunSpec(options.repo, options.flags, options.specFile);
  const runId = options.runId ?? generateRunId(options.repo);
  const workspace = await GitWorkspace.open(options.repo, { runId, pool: options.keepWorktrees !== true });
  await resolveHoldout(spec, source, specDir, workspace);
  const objective = await resolveObjective(spec, workspace.repo, source);
  for (const warning of await checkAgentReady(spec, workspace.repo)) options.onWarning?.(warning);
  const base = await workspace.resolve(options.base ?? 'HEAD');
  const dirty = uncommittedNotice(await uncommitted(workspace.repo), { ref: options.base ?? 'HEAD', commit: base });
  if (dirty !== undefined) options.onWarning?.(dirty);
  const info: RunInfo = {
    schema: RUN_JSON_VERSION,
    runId,
    target: workspace.repo,
    base,
    baseRef: options.base ?? 'HEAD',
    createdAt: new Date().toISOString(),
    spec,
    objective,
    specSource: source,
    versions: { ratchet: RATCHET_VERSION, node: process.version },
  };
  // Before the folder exists and before any worktree is touched: a run of this id started from
  // another folder on this repository makes this one refuse, and is left alone.
  const unlockRepo = await lockRunInRepository(workspace.gitDir, runId, runDir(options.experimentsRoot, runId));
  try {
    const store = await RunStore.create(options.experimentsRoot, info, { redactor: processRedactor() });
    try {
      return await session(options, info, store, workspace, false);
    } catch (error) {
      // A run that never started (Redis unreachable, redis-server missing) leaves no folder that
      // `ls` would show as running or crashed: there is nothing in it to look at or resume.
      if (store.getState().started === undefined) await rm(store.dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  } finally {
    await unlockRepo().catch(() => undefined);
  }
}

export interface ResumeOptions extends SessionOptions {
  runId: string;
}

/** Continue a run from its events and git refs: what was in flight is proposed again. */
export async function resumeRun(options: ResumeOptions): Promise<RunOutcome> {
  const info = await readRunInfo(runDir(options.experimentsRoot, options.runId));
  const store = await RunStore.open(options.experimentsRoot, options.runId, { redactor: processRedactor() });
  const workspace = await GitWorkspace.open(info.target, { runId: info.runId, pool: options.keepWorktrees !== true });
  await checkAgentReady(info.spec, workspace.repo);
  // The holdout folder was checked when the run started; it may have gone or moved since.
  await resolveHoldout(info.spec, join(store.dir, 'run.json'), '/', workspace);
  const unlockRepo = await lockRunInRepository(workspace.gitDir, info.runId, store.dir);
  try {
    return await session(options, info, store, workspace, true);
  } finally {
    await unlockRepo().catch(() => undefined);
  }
}

async function session(options: SessionOptions, info: RunInfo, store: RunStore, workspace: GitWorkspace, resumed: boolean): Promise<RunOutcome> {
  const startedAt = Date.now();
  const unlock = await lockRunSession(store.dir, info.runId);
  try {
    return await lockedSession(options, info, store, workspace, resumed, startedAt);
  } finally {
    await unlock().catch(() => undefined);
  }
}

// How long closing the worker, the queue and the event stream may take: a Redis that is gone
// would otherwise keep them waiting for ever (their clients retry), and the run would not end.
const CLOSE_TIMEOUT_MS = 5_000;
/** With the private Redis gone for good there is nothing to close gracefully: each close only reconnects in vain. */
const LOST_CLOSE_TIMEOUT_MS = 1_000;
// The same Redis error repeats at every reconnection attempt; say it once in this long.
const WARNING_EVERY_MS = 30_000;

async function lockedSession(options: SessionOptions, info: RunInfo, store: RunStore, workspace: GitWorkspace, resumed: boolean, startedAt: number): Promise<RunOutcome> {
  // Stops the run's work: the user's signal, `ratchet stop`, or a private Redis lost for good.
  const stopper = new AbortController();
  const onSignal = (): void => stopper.abort(options.signal.reason);
  if (options.signal.aborted) onSignal();
  options.signal.addEventListener('abort', onSignal, { once: true });
  let userStop: string | undefined;
  const unwatch = await watchStopRequest(store.dir, (request) => {
    userStop = describeStopRequest(request);
    options.onWarning?.(`${userStop}: stopping (cancelling the experiment in flight)`);
    stopper.abort(new AbortedError(userStop));
  });
  try {
    return await stoppableSession(options, info, store, workspace, resumed, startedAt, stopper, () => userStop);
  } finally {
    unwatch();
    options.signal.removeEventListener('abort', onSignal);
  }
}

async function stoppableSession(
  options: SessionOptions,
  info: RunInfo,
  store: RunStore,
  workspace: GitWorkspace,
  resumed: boolean,
  startedAt: number,
  stopper: AbortController,
  userStop: () => string | undefined,
): Promise<RunOutcome> {
  const signal = stopper.signal;
  const detach = options.onEvent ? store.onEvent(options.onEvent) : undefined;
  const sandbox = await resolveSandbox(info.spec.sandbox);
  if (sandbox.notice !== undefined) options.onWarning?.(sandbox.notice);
  const holdout = holdoutNotice(info.spec, sandbox.sandboxed);
  if (holdout !== undefined) options.onWarning?.(holdout);
  const limits = await limitsNotice(commandLimits(info.spec));
  if (limits !== undefined) options.onWarning?.(limits);
  // Worktrees of a crashed session of this run would block its experiment names.
  await workspace.reconcile(workspace.worktreeRoot);
  const warn = (message: string): void => options.onWarning?.(message);
  const redis = await openRunRedis({ ...(options.redis === undefined ? {} : { flag: options.redis }), runDir: store.dir, signal, onRestart: warn });
  let redisLost: string | undefined;
  const onLost = (): void => {
    redisLost = redis.lost?.reason instanceof Error ? redis.lost.reason.message : 'the private redis-server stopped';
    stopper.abort(new AbortedError(redisLost));
  };
  if (redis.lost?.aborted === true) onLost();
  redis.lost?.addEventListener('abort', onLost, { once: true });
  // The Redis password is a secret of this session too, though no command is given it.
  const password = redis.connection.password;
  const redactor = processRedactor(password === undefined ? [] : [{ name: 'REDIS_PASSWORD', value: password }]);
  const runner = createRunner(redactor);
  for (const warning of redis.warnings) options.onWarning?.(warning);
  options.onStart?.({ runId: info.runId, dir: store.dir, redisUrl: redis.url });
  const onError = throttled(WARNING_EVERY_MS, (error: Error) => options.onWarning?.(`redis: ${error.message}`));
  // On a server this session started, no worker of an earlier session can hold a job.
  const queue = new BullEvaluationQueue({
    connection: redis.connection,
    key: redis.jobKey,
    combine: combineStages,
    onError,
    freshServer: redis.embedded,
    logFolder: (request) => store.experimentDir(request.experiment),
  });
  // For `ratchet watch --redis` elsewhere; best effort, never stops the run. A private redis-server is reachable from no other machine.
  const publisher = redis.embedded ? undefined : await openEventPublisher(redis.connection, info, { onError });
  if (publisher) store.onEvent(publisher.publish);
  let worker: RunningWorker | undefined;
  // The in-process worker's own folder: its clone of the remote, what it keeps of a stage.
  const workerDir = join(store.dir, 'worker');
  const checkouts = createWorkerCheckouts(workerDir);
  const remote = info.spec.remote;
  const evaluations = remote === undefined ? queue : new PushingQueue(queue, workspace.repo, remote, combineStages);
  let stop: Stop;
  try {
    // Registers this session of the run first, so jobs a crashed session left queued are
    // refused instead of being run in worktrees that no longer exist.
    await queue.open(info.runId);
    if (options.inProcessWorker !== false) {
      worker = await startWorker({
        connection: redis.connection,
        key: redis.jobKey,
        executor: createWorkerExecutor(runner, checkouts),
        runs: [info.runId],
        onError,
        logRoot: join(workerDir, 'logs'),
      });
    }
    await store.append({
      type: 'run_started',
      target: info.target,
      base: info.base,
      metric: info.spec.bench.metric.name,
      goal: info.spec.bench.metric.goal,
      agent: info.spec.agent.kind,
      resumed,
    });
    // A run that started: its id now works from any folder. Best effort; the run needs none of it.
    await recordRun({ runId: info.runId, dir: store.dir, target: info.target, createdAt: info.createdAt }).catch((error: unknown) =>
      options.onWarning?.(`could not record the run in ${runIndexPath()} (${error instanceof Error ? error.message : String(error)}); from another folder, name its folder: --experiments ${dirname(store.dir)}`),
    );
    const run: RunContext = {
      runId: info.runId,
      spec: info.spec,
      objective: info.objective,
      baseCommit: info.base,
      store,
      workspace,
      queue: evaluations,
      ...(remote === undefined ? {} : { commitSource: { kind: 'remote', url: remote } as const }),
      proposer: await createRunProposer(info.spec, runner, redactor),
      now: Date.now,
      ...(options.keepWorktrees ? { keepWorktrees: true } : {}),
      ...(agentRunsUnconfined(info.spec, sandbox.sandboxed) ? { agentUnconfined: true } : { agentConfined: sandbox.sandboxed }),
      ...(needsSetupFirst(info.spec) ? { prepareWorktree: setupBeforeAgent(info.spec, runner, workspace.gitDir) } : {}),
    };
    // A resumed run whose budget is already spent stops at once, without a new experiment.
    stop = checkBudget(store.getState(), info.spec, 0) ?? (await runLoop(run, signal, { startedAt }));
  } catch (error) {
    if (!isAbortError(error) && !signal.aborted) {
      await store.append({ type: 'run_stopped', reason: 'error', detail: error instanceof Error ? error.message : String(error) }).catch(() => undefined);
      detach?.();
      throw error;
    }
    stop = { reason: 'signal', detail: 'interrupted' };
  } finally {
    redis.lost?.removeEventListener('abort', onLost);
    const closeMs = redisLost === undefined ? CLOSE_TIMEOUT_MS : LOST_CLOSE_TIMEOUT_MS;
    await bounded(worker?.close(), closeMs);
    await checkouts.close();
    // The pool's worktrees outlive experiments, not the session; no job runs in them now.
    await workspace.drainPool().catch(() => undefined);
    await bounded(queue.close(), closeMs);
    await redis.stop().catch(() => undefined);
  }
  if (redisLost !== undefined) {
    const detail = `${redisLost}; the run folder and its refs are intact`;
    await store.append({ type: 'run_stopped', reason: 'error', detail });
    detach?.();
    throw new RedisLostError(`run ${info.runId} stopped: ${redisLost}`, {
      hint: `see ${join(store.dir, 'redis', 'redis.log')}; continue with: ratchet resume ${info.runId}`,
      fields: { runId: info.runId },
    });
  }
  const asked = userStop();
  if (asked !== undefined && stop.reason === 'signal') stop = { reason: 'user', detail: asked };
  await store.append({ type: 'run_stopped', reason: stop.reason, detail: stop.detail });
  detach?.();
  // After run_stopped, so a watcher on another machine sees the run end.
  await bounded(publisher?.close(), CLOSE_TIMEOUT_MS);
  return { summary: summarize(store.getState(), store.dir), stop };
}
