/**
 * Nothing a command starts outlives it. Each command runs in its own process group and carries a
 * token in its environment that every descendant inherits, `setsid` and `detached` children
 * included; when the command ends (or times out, or is aborted) the group is stopped and every
 * process still carrying the token is killed. A detached watchdog does the same if ratchet itself
 * dies without running its exit hook (SIGKILL, OOM).
 *
 * Inside bubblewrap the pid namespace does this by itself; the sweep is what holds without it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';

/** The variable that marks every process of one command. */
export const PROCESS_TOKEN_VAR = 'RATCHET_PROCESS_TOKEN';
export const DEFAULT_KILL_GRACE_MS = 2_000;
const POLL_MS = 50;

export function newProcessToken(): string {
  return randomBytes(12).toString('hex');
}

interface Tracked {
  pgid: number;
  token: string;
}

// Commands started here and not yet known to be gone; killed if ratchet exits.
const live = new Map<number, Tracked>();
let exitHookInstalled = false;

/** SIGKILL every command still running, its group and its token holders. Synchronous, for an `exit` handler. */
export function killLiveGroups(): void {
  for (const { pgid, token } of live.values()) {
    signalGroup(pgid, 'SIGKILL');
    if (process.platform === 'linux') {
      // A synchronous sweep is not possible with fs/promises here; the watchdog finishes it.
      startSweeper(token);
    }
  }
  live.clear();
}

/**
 * The watchdog: while ratchet lives, it waits; once ratchet is gone it kills the group and every
 * process carrying the token. It exits by itself when the group is empty and no token holder is
 * left. `grep -z` reads /proc/<pid>/environ, NUL-separated.
 */
const SWEEP = [
  'sweep() {',
  '  found=1; rounds=0',
  '  while [ "$found" = 1 ] && [ "$rounds" -lt 20 ]; do',
  '    found=0; rounds=$((rounds + 1))',
  '    for f in /proc/[0-9]*/environ; do',
  '      p=${f#/proc/}; p=${p%/environ}',
  '      [ "$p" = "$$" ] && continue',
  '      if grep -qzx "$TOKEN_VAR=$3" "$f" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; found=1; fi',
  '    done',
  '  done',
  '}',
].join('\n');

const WATCHDOG = [
  SWEEP,
  'while kill -0 "$1" 2>/dev/null; do',
  '  kill -0 "-$2" 2>/dev/null || exit 0',
  '  sleep 1',
  'done',
  'kill -TERM "-$2" 2>/dev/null; sleep 2; kill -KILL "-$2" 2>/dev/null',
  '[ -d /proc/self ] && sweep "$@"',
].join('\n');

/** A detached `sh` running `script`, outliving ratchet on purpose; best effort. */
function spawnDetached(script: string, name: string, args: readonly string[]): void {
  try {
    const child = spawn('sh', ['-c', script, name, ...args], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TOKEN_VAR: PROCESS_TOKEN_VAR },
    });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // Without sh there is no command either; the exit hook still covers a normal exit.
  }
}

function startWatchdog(pgid: number, token: string): void {
  spawnDetached(WATCHDOG, 'ratchet-watchdog', [String(process.pid), String(pgid), token]);
}

/** A one-off sweep in a detached shell, for the exit hook, which cannot wait. */
function startSweeper(token: string): void {
  spawnDetached(`${SWEEP}\nsweep "$@"`, 'ratchet-sweep', ['0', '0', token]);
}

/** `watchdog: false` for bubblewrap, whose `--die-with-parent` already ends it with ratchet. */
export function track(pgid: number, token: string, options: { watchdog: boolean } = { watchdog: true }): void {
  if (!exitHookInstalled) {
    process.on('exit', killLiveGroups);
    exitHookInstalled = true;
  }
  live.set(pgid, { pgid, token });
  if (options.watchdog) startWatchdog(pgid, token);
}

export function untrack(pgid: number): void {
  live.delete(pgid);
}

/** Sends `signal` to the group; false when no process of the group is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

interface ProcInfo {
  pid: number;
  state: string;
  pgid: number;
}

async function processes(): Promise<ProcInfo[] | undefined> {
  const entries = await readdir('/proc').catch(() => undefined);
  if (entries === undefined) return undefined;
  const stats = await Promise.all(
    entries.filter((e) => /^\d+$/.test(e)).map(async (pid) => ({ pid: Number(pid), stat: await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') })),
  );
  return stats.flatMap(({ pid, stat }) => {
    if (stat === '') return [];
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [{ pid, state: fields[0] ?? '', pgid: Number(fields[2]) }];
  });
}

/**
 * Whether any live process is left in the group. Zombies count as gone: an orphan killed here is
 * reparented to init, which may take its time to reap it, and a zombie runs nothing.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  const all = await processes();
  if (all === undefined) return true;
  return all.some((p) => p.pgid === pgid && p.state !== 'Z' && p.state !== 'X');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGTERM the group, wait up to `graceMs` for it to empty, then SIGKILL what is left. */
export async function stopGroup(pgid: number, graceMs = DEFAULT_KILL_GRACE_MS): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    if (!(await groupAlive(pgid))) return;
  }
  signalGroup(pgid, 'SIGKILL');
}

/** Pids of live processes whose environment carries `token`. */
export async function tokenHolders(token: string): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const needle = `${PROCESS_TOKEN_VAR}=${token}`;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found = await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
      .map(async (pid) => {
        const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
        return environ.split('\0').includes(needle) ? Number(pid) : undefined;
      }),
  );
  return found.filter((pid): pid is number => pid !== undefined);
}

/**
 * Kills every process carrying `token`, the ones that left the group with `setsid` included,
 * until none is left (a process may fork while it is being killed). Returns how many it killed.
 */
export async function sweepToken(token: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const holders = await tokenHolders(token);
    if (holders.length === 0) return killed;
    for (const pid of holders) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    await sleep(10);
  }
  return killed;
}
