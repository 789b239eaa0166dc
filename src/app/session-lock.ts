/**
 * One session at a time per run: two orchestrators appending to one events.jsonl, or sharing one
 * private redis-server, would corrupt the run. `session.lock` names its holder (host and pid) and
 * is refreshed while held; a holder that died (its pid is gone on this host, or the lock has not
 * been refreshed for a minute) is taken over, so `resume` works right after a crash.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { UserError } from '../core/errors.js';

const REFRESH_MS = 10_000;
const STALE_MS = 60_000;

interface Holder {
  host: string;
  pid: number;
  t: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(holder: Holder | undefined, now: number): boolean {
  if (holder === undefined) return true;
  if (holder.host === hostname() && !alive(holder.pid)) return true;
  return now - holder.t > STALE_MS;
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.t === 'number' ? (parsed as Holder) : undefined;
  } catch {
    return undefined;
  }
}

export async function lockRunSession(runDir: string, runId: string): Promise<() => Promise<void>> {
  const path = join(runDir, 'session.lock');
  const me = (): string => JSON.stringify({ host: hostname(), pid: process.pid, t: Date.now() } satisfies Holder);
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
      throw new UserError(`run ${runId} is in use by another ratchet process${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''}`, {
        hint: `follow it with: ratchet watch ${runId}; or stop that process first`,
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
