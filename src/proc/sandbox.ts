/**
 * The bubblewrap sandbox every command a candidate can influence runs in: new pid, ipc, uts and
 * network namespaces, a new session, killed with its parent; the system and the toolchain
 * read-only; a private /tmp and HOME; and only the folders the caller names (the worktree
 * writable, the git data read-only). Nothing else of the machine is there: not the user's home,
 * not the run folder, not Redis, not ratchet's /proc.
 *
 * The argument list is a pure function of the host's layout and the request; `probeBwrap` finds
 * out once per process whether bubblewrap works here.
 */
import { execFile } from 'node:child_process';
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { SandboxRequest } from '../domain/command-runner.js';


/** The machine's side: where the system and the toolchain are. */
export interface SandboxHost {
  /** Top-level system folders that exist, each a folder (bound read-only) or a symlink (recreated). */
  system: readonly { path: string; link?: string }[];
  /** The user's HOME: replaced by an empty private folder at the same path. */
  home: string | undefined;
  /** Toolchain folders outside the system ones, bound read-only (from PATH and `sandbox_paths`). */
  toolchain: readonly string[];
  /** System secrets that exist here, covered inside the sandbox. */
  hiddenFiles: readonly string[];
  hiddenDirs: readonly string[];
}

/** System folders that hold programs and libraries; bound read-only when they exist. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix'];
/** Secrets of the system that no build needs: covered even though /etc is visible. */
const HIDDEN_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/security/opasswd'];
const HIDDEN_DIRS = ['/etc/ssh', '/etc/ssl/private', '/etc/sudoers.d'];
/** Folders of HOME that hold credentials: a PATH entry inside one is bound alone, never the folder. */
const PRIVATE_HOME_DIRS = new Set(['.ssh', '.gnupg', '.aws', '.azure', '.config', '.docker', '.kube', '.local', '.password-store', '.netrc']);
/** Toolchains whose binaries need a sibling folder of HOME. */
const COMPANIONS: Record<string, readonly string[]> = { '.cargo': ['.rustup'] };

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function expandHome(path: string, home: string | undefined): string {
  if (home !== undefined && (path === '~' || path.startsWith('~/'))) return join(home, path.slice(1));
  return resolve(path);
}

/**
 * Read-only toolchain folders for the PATH entries outside the system folders: a toolchain in
 * HOME (~/.nvm, ~/.pyenv, ~/.cargo) is bound whole, since its shims need the rest of it.
 */
export function toolchainDirs(pathVariable: string | undefined, home: string | undefined, extra: readonly string[] = []): string[] {
  const dirs = new Set<string>();
  for (const entry of (pathVariable ?? '').split(':')) {
    if (!isAbsolute(entry) || SYSTEM_DIRS.some((dir) => isInside(entry, dir))) continue;
    if (home !== undefined && home !== '/' && isInside(entry, home) && entry !== home) {
      const top = relative(home, entry).split(sep)[0] ?? '';
      if (top.startsWith('.') && !PRIVATE_HOME_DIRS.has(top)) {
        dirs.add(join(home, top));
        for (const companion of COMPANIONS[top] ?? []) dirs.add(join(home, companion));
      } else if (top === '.local') {
        // pip --user: scripts in ~/.local/bin, their packages in ~/.local/lib; not ~/.local/share.
        dirs.add(join(home, '.local', 'bin'));
        dirs.add(join(home, '.local', 'lib'));
      } else {
        dirs.add(entry);
      }
      continue;
    }
    dirs.add(entry);
  }
  for (const path of extra) dirs.add(expandHome(path, home));
  return [...dirs].filter(existsDir).sort();
}

/** The host's layout, read once: which system folders exist, HOME, the toolchain. */
export function readSandboxHost(env: NodeJS.ProcessEnv, extraPaths: readonly string[] = []): SandboxHost {
  const system: { path: string; link?: string }[] = [];
  for (const path of SYSTEM_DIRS) {
    try {
      const info = lstatSync(path);
      if (info.isSymbolicLink()) system.push({ path, link: readlinkSync(path) });
      else if (info.isDirectory()) system.push({ path });
    } catch {
      // not on this machine
    }
  }
  const home = env['HOME'] ?? homedir();
  const usableHome = isAbsolute(home) && home !== '/' && !SYSTEM_DIRS.some((dir) => isInside(home, dir)) ? home : undefined;
  const isFile = (path: string): boolean => {
    try {
      return lstatSync(path).isFile();
    } catch {
      return false;
    }
  };
  return {
    system,
    home: usableHome,
    toolchain: toolchainDirs(env['PATH'], usableHome, extraPaths),
    hiddenFiles: HIDDEN_FILES.filter(isFile),
    hiddenDirs: HIDDEN_DIRS.filter(existsDir),
  };
}

/**
 * The bwrap arguments for `command` run by `sh -c` in `cwd`. Order matters: the system, then a
 * private HOME and /tmp, the toolchain, then the caller's mounts in their order.
 */
export function bwrapArgs(host: SandboxHost, request: SandboxRequest, cwd: string, command: string): string[] {
  const args = [
    '--die-with-parent',
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(request.network ? [] : ['--unshare-net']),
    '--hostname',
    'ratchet-sandbox',
    '--cap-drop',
    'ALL',
  ];
  for (const dir of host.system) {
    if (dir.link !== undefined) args.push('--symlink', dir.link, dir.path);
    else args.push('--ro-bind', dir.path, dir.path);
  }
  for (const file of host.hiddenFiles) args.push('--ro-bind', '/dev/null', file);
  for (const dir of host.hiddenDirs) args.push('--tmpfs', dir, '--remount-ro', dir);
  // DNS on systemd machines: resolv.conf points into /run.
  if (request.network) args.push('--ro-bind-try', '/run/systemd/resolve', '/run/systemd/resolve');
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp');
  if (host.home !== undefined) args.push('--tmpfs', host.home);
  for (const dir of host.toolchain) args.push('--ro-bind', dir, dir);
  for (const mount of request.mounts) {
    if (mount.kind === 'rw') args.push('--bind', mount.path, mount.path);
    else if (mount.kind === 'ro') args.push('--ro-bind', mount.path, mount.path);
    // A private empty folder; not remounted read-only, so later mounts can still go inside it.
    else args.push('--tmpfs', mount.path);
  }
  args.push('--chdir', cwd, '--setenv', 'TMPDIR', '/tmp', '--', 'sh', '-c', command);
  return args;
}

export type BwrapProbe = { ok: true; binary: string } | { ok: false; reason: string };

let probed: Promise<BwrapProbe> | undefined;

/** Whether bubblewrap can make the namespaces we need on this machine; asked once per process. */
export function probeBwrap(binary = 'bwrap'): Promise<BwrapProbe> {
  if (binary !== 'bwrap') return runProbe(binary);
  probed ??= runProbe(binary);
  return probed;
}

function runProbe(binary: string): Promise<BwrapProbe> {
  const args = ['--unshare-pid', '--unshare-net', '--die-with-parent', '--new-session', '--ro-bind', '/', '/', '--proc', '/proc', '--', 'true'];
  return new Promise((done) => {
    execFile(binary, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) return done({ ok: true, binary });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return done({ ok: false, reason: `${binary} is not installed` });
      const said = stderr.trim().split('\n').at(-1) ?? error.message;
      done({ ok: false, reason: `${binary} cannot create namespaces here (${said})` });
    });
  });
}

/** The one-line notice for `sandbox: auto` on a machine where bubblewrap does not work. */
export function unsandboxedNotice(reason: string): string {
  return (
    `sandbox: ${reason}; commands run unsandboxed: a candidate's setup, checks and bench can read your files, ` +
    `reach the network and other processes (secrets are still filtered from their environment and redacted from logs, ` +
    `protected files, refs and leftover processes are still checked). Install bubblewrap (apt-get install bubblewrap); ` +
    `on Ubuntu 24.04+ also allow unprivileged user namespaces (AppArmor: kernel.apparmor_restrict_unprivileged_userns=0)`
  );
}
