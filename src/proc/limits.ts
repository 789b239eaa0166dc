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
  /** The files whose `cgroup.procs` the command writes its pid into before it runs. */
  procs: string[];
  /** The command itself, with a per-process fallback where no cgroup could do it. */
  command: string;
  /** Removes the cgroups once the command is gone. */
  release(): Promise<void>;
}

/** Cgroups for one command with `limits`, or the `ulimit` fallback. */
export async function limitCommand(command: string, limits: ResourceLimits): Promise<LimitedLaunch> {
  const none: LimitedLaunch = { procs: [], command, release: () => Promise.resolve() };
  if (limits.memoryBytes === undefined && limits.cpus === undefined) return none;
  const roots = await cgroupRoots();
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
    return { procs: [], command: limits.memoryBytes === undefined ? command : `ulimit -d ${Math.max(1, Math.floor(limits.memoryBytes / 1024))} 2>/dev/null; ${command}`, release: () => Promise.resolve() };
  }
  return { procs: made.map((dir) => join(dir, 'cgroup.procs')), command: fallback, release: () => release(made) };
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
