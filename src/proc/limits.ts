/**
 * `limits.memory` and `limits.cpu` for one command's whole process tree: a cgroup of its own
 * (cgroup v2, or the v1 memory and cpu controllers) when this machine lets ratchet make one, the
 * command moving itself in before it runs anything. Without a writable cgroup, memory falls back
 * to a per-process data limit (`ulimit -d`) and cpu is not limited; `limitsNotice` says so.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ResourceLimits {
  memoryBytes?: number | undefined;
  /** Cores: 1.5 is one and a half. */
  cpus?: number | undefined;
}

/** Where new cgroups can be made: per controller, the folder to make them in. */
interface CgroupRoots {
  version: 1 | 2;
  memory: string | undefined;
  cpu: string | undefined;
}

const CPU_PERIOD_US = 100_000;

async function writable(dir: string): Promise<boolean> {
  const probe = join(dir, `ratchet-probe-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return true;
  } catch {
    return false;
  }
}

let found: Promise<CgroupRoots | undefined> | undefined;

/** The cgroup folders of this process where ratchet may make children; undefined when none. */
export function cgroupRoots(): Promise<CgroupRoots | undefined> {
  found ??= (async () => {
    const own = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
    const lines = own.split('\n').filter((l) => l !== '');
    const controllers = await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8').catch(() => undefined);
    if (controllers !== undefined) {
      const path = lines.find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
      const dir = join('/sys/fs/cgroup', path);
      if (!(await writable(dir))) return undefined;
      const enabled = (await readFile(join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => '')).split(/\s+/);
      return { version: 2, memory: enabled.includes('memory') ? dir : undefined, cpu: enabled.includes('cpu') ? dir : undefined };
    }
    const v1 = async (name: string): Promise<string | undefined> => {
      const path = lines.map((l) => l.split(':')).find((parts) => (parts[1] ?? '').split(',').includes(name))?.[2];
      if (path === undefined) return undefined;
      const dir = join('/sys/fs/cgroup', name, path);
      return (await writable(dir)) ? dir : undefined;
    };
    const roots: CgroupRoots = { version: 1, memory: await v1('memory'), cpu: await v1('cpu') };
    return roots.memory === undefined && roots.cpu === undefined ? undefined : roots;
  })();
  return found;
}

export interface LimitedLaunch {
  /** The `cgroup.procs` files the command writes its pid into before it runs. */
  procs: string[];
  /**
   * Kills every process still in the command's cgroups: the one sweep nothing escapes without
   * privileges (a child that cleared its environment and left the session included).
   */
  killMembers(): Promise<number>;
  /** The command itself, with a per-process fallback where no cgroup could do it. */
  command: string;
  /** Removes the cgroups once the command is gone. */
  release(): Promise<void>;
}

/** Cgroups for one command with `limits`, or the `ulimit` fallback. */
export async function limitCommand(command: string, limits: ResourceLimits, options: { track: boolean } = { track: true }): Promise<LimitedLaunch> {
  const none: LimitedLaunch = { procs: [], command, release: () => Promise.resolve(), killMembers: () => Promise.resolve(0) };
  const roots = await cgroupRoots();
  if (limits.memoryBytes === undefined && limits.cpus === undefined) {
    if (!options.track) return none;
    // No limits, but a cgroup still tracks every descendant, so the end of the command ends them all.
    const root = roots?.memory ?? roots?.cpu;
    if (root === undefined) return none;
    const dir = join(root, `ratchet-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dir);
    } catch {
      return none;
    }
    return { procs: [join(dir, 'cgroup.procs')], command, release: () => release([dir]), killMembers: () => killMembers([dir]) };
  }
  const name = `ratchet-${randomBytes(6).toString('hex')}`;
  const made: string[] = [];
  const make = async (root: string): Promise<string> => {
    const dir = join(root, name);
    if (!made.includes(dir)) {
      await mkdir(dir);
      made.push(dir);
    }
    return dir;
  };
  let fallback = command;
  try {
    if (limits.memoryBytes !== undefined) {
      if (roots?.memory !== undefined) {
        const dir = await make(roots.memory);
        await writeFile(join(dir, roots.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'), String(limits.memoryBytes));
        if (roots.version === 2) await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
      } else {
        // Per process, and counted in KiB: the best a shell can do without a cgroup.
        fallback = `ulimit -d ${Math.max(1, Math.floor(limits.memoryBytes / 1024))} 2>/dev/null; ${fallback}`;
      }
    }
    if (limits.cpus !== undefined && roots?.cpu !== undefined) {
      const dir = await make(roots.cpu);
      const quota = Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
      if (roots.version === 2) await writeFile(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      else {
        await writeFile(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quota));
      }
    }
  } catch {
    // A cgroup that cannot be set up is not a reason to fail the command: fall back.
    await release(made);
    const perProcess = limits.memoryBytes === undefined ? command : `ulimit -d ${Math.max(1, Math.floor(limits.memoryBytes / 1024))} 2>/dev/null; ${command}`;
    return { ...none, command: perProcess };
  }
  return { procs: made.map((dir) => join(dir, 'cgroup.procs')), command: fallback, release: () => release(made), killMembers: () => killMembers(made) };
}

async function killMembers(dirs: readonly string[]): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const pids = new Set<number>();
    for (const dir of dirs) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
    }
    if (pids.size === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}

async function release(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    // Emptied a moment after its last process is killed: retry briefly.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/** What the user should know about limits on this machine, or undefined when all of them apply. */
export async function limitsNotice(limits: ResourceLimits): Promise<string | undefined> {
  if (limits.memoryBytes === undefined && limits.cpus === undefined) return undefined;
  const roots = await cgroupRoots();
  const missing: string[] = [];
  if (limits.memoryBytes !== undefined && roots?.memory === undefined) missing.push('limits.memory applies per process (ulimit -d), not to the whole tree');
  if (limits.cpus !== undefined && roots?.cpu === undefined) missing.push('limits.cpu is not applied');
  if (missing.length === 0) return undefined;
  return `limits: no writable cgroup here (run as root, or delegate a cgroup to this user); ${missing.join('; ')}`;
}
