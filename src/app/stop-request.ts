/**
 * `ratchet stop <run>` from another terminal, or another machine that sees the run folder: it
 * writes `<run>/stop-request`; the session polls for it and stops the way a first Ctrl-C does
 * (the experiment in flight is cancelled and proposed again on resume), recording
 * `run_stopped` with reason `user`. A file rather than a signal, so it needs no pid of this
 * host and says who asked.
 *
 * Versions: v1 — `{ v: 1, host, pid, t }`.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { UserError } from '../domain/errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import { parseEvents } from '../domain/events.js';
import { isStale, readHolder, sessionLockPath } from './session-lock.js';
import { locateRun, type RunsWhere } from './runs.js';

const STOP_FILE = 'stop-request';
const POLL_MS = 500;

export interface StopRequest {
  host: string;
  pid: number;
  t: number;
}

export function stopRequestPath(runDir: string): string {
  return join(runDir, STOP_FILE);
}

async function readRequest(runDir: string): Promise<StopRequest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(stopRequestPath(runDir), 'utf8')) as Partial<StopRequest> & { v?: number };
    return { host: String(parsed.host ?? '?'), pid: Number(parsed.pid ?? 0), t: Number(parsed.t ?? 0) };
  } catch {
    return undefined;
  }
}

/**
 * Calls `onStop` once a stop is requested. A request left by an earlier session is removed
 * first: it was for that session. Returns a function that stops watching.
 */
export async function watchStopRequest(runDir: string, onStop: (request: StopRequest) => void): Promise<() => void> {
  await rm(stopRequestPath(runDir), { force: true });
  let done = false;
  const timer = setInterval(() => {
    void readRequest(runDir).then((request) => {
      if (request === undefined || done) return;
      done = true;
      clearInterval(timer);
      onStop(request);
    });
  }, POLL_MS);
  timer.unref();
  return () => {
    done = true;
    clearInterval(timer);
  };
}

export function describeStopRequest(request: StopRequest): string {
  return `stopped by user (ratchet stop, pid ${request.pid} on ${request.host})`;
}

export interface StopRunOptions extends RunsWhere {
  runId: string;
  /** How long to wait for the run to record its stop; 0: do not wait. */
  waitMs: number;
  signal?: AbortSignal;
}

export interface StopRunResult {
  runId: string;
  dir: string;
  /** `stopped`: the run recorded its stop; `requested`: asked, not yet stopped; `not-running`: no live session. */
  state: 'stopped' | 'requested' | 'not-running';
  /** The session that was asked. */
  holder?: { host: string; pid: number };
}

/** Asks the run's session to stop and waits (up to `waitMs`) until it has written `run_stopped`. */
export async function stopRun(options: StopRunOptions): Promise<StopRunResult> {
  const { runId, dir } = await locateRun(options.runId, options);
  const holder = await readHolder(sessionLockPath(dir));
  if (holder === undefined || isStale(holder, Date.now())) return { runId, dir, state: 'not-running' };
  const before = await stoppedCount(dir);
  await writeFileAtomic(stopRequestPath(dir), `${JSON.stringify({ v: 1, host: hostname(), pid: process.pid, t: Date.now() })}\n`);
  const asked = { host: holder.host, pid: holder.pid };
  const deadline = Date.now() + options.waitMs;
  while (Date.now() < deadline) {
    if (options.signal?.aborted === true) break;
    await new Promise((r) => setTimeout(r, 250));
    if ((await stoppedCount(dir)) > before) return { runId, dir, state: 'stopped', holder: asked };
    const now = await readHolder(sessionLockPath(dir));
    if (now === undefined || now.pid !== holder.pid) {
      // The session ended without recording the stop (it crashed meanwhile): nothing runs.
      return { runId, dir, state: (await stoppedCount(dir)) > before ? 'stopped' : 'not-running', holder: asked };
    }
  }
  return { runId, dir, state: 'requested', holder: asked };
}

async function stoppedCount(dir: string): Promise<number> {
  const text = await readFile(join(dir, 'events.jsonl'), 'utf8').catch(() => '');
  return parseEvents(text).events.filter((e) => e.type === 'run_stopped').length;
}

/** For the CLI: a run that did not stop in time is a UserError naming what to do. */
export function stopTimedOut(result: StopRunResult, waitedMs: number): UserError {
  return new UserError(`run ${result.runId} was asked to stop but has not stopped after ${Math.round(waitedMs / 1000)} s (pid ${result.holder?.pid ?? '?'} on ${result.holder?.host ?? '?'})`, {
    hint: `it stops after cancelling the experiment in flight; wait, or stop that process: kill ${result.holder?.pid ?? '<pid>'}`,
  });
}
