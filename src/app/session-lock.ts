/**
 * One session at a time per run: two orchestrators appending to one events.jsonl, sharing one
 * private redis-server, or reconciling the same worktrees would corrupt the run. Two locks:
 *
 * - `<run>/session.lock`, in the run folder: the run's own record.
 * - `<git-common-dir>/ratchet/runs/<run>.lock`, in the target repository: the run id's refs and
 *   worktrees there are shared by every folder a run of that id could be started from, so a second
 *   `ratchet run --run-id X` from another folder must refuse before it creates or removes anything.
 *
 * Each names its holder (host, pid, run folder) and is refreshed while held; a holder that died
 * (its pid is gone on this host, or the lock has not been refreshed for a minute) is taken over, so
 * `resume` works right after a crash, a SIGKILL or a double Ctrl-C.
 */
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { UserError } from '../domain/errors.js';
import { isAlive } from '../util/process.js';

const REFRESH_MS = 10_000;
const STALE_MS = 60_000;

export interface LockHolder {
  host: string;
  pid: number;
  t: number;
  /** The run folder of the session that holds it. */
  dir?: string;
}

/** Whether the holder is gone: dead on this host, or silent for longer than a refresh allows. */
export function isStale(holder: LockHolder | undefined, now: number): boolean {
  if (holder === undefined) return true;
  if (holder.host === hostname() && !isAlive(holder.pid)) return true;
  return now - holder.t > STALE_MS;
}

export async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.t === 'number' ? (parsed as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

export function sessionLockPath(runDir: string): string {
  return join(runDir, 'session.lock');
}

export function repositoryRunLockPath(gitDir: string, runId: string): string {
  return join(gitDir, 'ratchet', 'runs', `${runId}.lock`);
}

/** The run-folder lock; see the top of the file. */
export function lockRunSession(runDir: string, runId: string): Promise<() => Promise<void>> {
  return takeLock(sessionLockPath(runDir), runId, runDir);
}

/** The repository's lock on a run id, taken before the run creates or removes anything there. */
export async function lockRunInRepository(gitDir: string, runId: string, runDir: string): Promise<() => Promise<void>> {
  const path = repositoryRunLockPath(gitDir, runId);
  await mkdir(dirname(path), { recursive: true });
  return takeLock(path, runId, runDir);
}

async function takeLock(path: string, runId: string, runDir: string): Promise<() => Promise<void>> {
  const me = (): string => JSON.stringify({ host: hostname(), pid: process.pid, t: Date.now(), dir: runDir } satisfies LockHolder);
  for (let attempt = 0; ; attempt += 1) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(me());
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readHolder(path);
      if (attempt < 2 && isStale(holder, Date.now())) {
        await rm(path, { force: true });
        continue;
      }
      const who = holder ? ` (pid ${holder.pid} on ${holder.host}${holder.dir === undefined ? '' : `, run folder ${holder.dir}`})` : '';
      throw new UserError(`run ${runId} is in use by another ratchet process${who}`, {
        hint: `follow it with: ratchet watch ${runId}; stop it with: ratchet stop ${runId}; or choose another --run-id`,
        fields: { runId, lock: path, ...(holder ? { holder } : {}) },
      });
    }
  }
  const refresh = setInterval(() => void writeFile(path, me()).catch(() => undefined), REFRESH_MS);
  refresh.unref();
  return async () => {
    clearInterval(refresh);
    await rm(path, { force: true });
  };
}
