/** What running one command needs and returns, as an interface: src/proc implements it (ExecaCommandRunner), with its sandbox. */

export interface CommandResult {
  exitCode: number | undefined;
  /** The signal that ended the process, if one did. */
  signal: string | undefined;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The last `captureBytes` of stdout and stderr interleaved, as text. */
  output: string;
  /** True when the log file was cut at its size cap. */
  truncated: boolean;
  /** True when it ran inside the bubblewrap sandbox. */
  sandboxed?: boolean;
}

/** One mount inside the sandbox, applied in order (a later one covers an earlier one). */
export interface SandboxMount {
  /** `ro`: visible read-only; `rw`: writable; `hide`: an empty private folder over it (what was there is not visible). */
  kind: 'ro' | 'rw' | 'hide';
  path: string;
}

/** What one command may see, chosen by the caller, who knows the worktree and the repository. */
export interface SandboxRequest {
  /** `auto`: bubblewrap when it works here, otherwise unconfined. */
  mode: 'auto' | 'bwrap' | 'none';
  mounts: readonly SandboxMount[];
  /** Share the host's network (setup with `setup_network`, a command agent's CLI). */
  network: boolean;
}

export interface CommandOptions {
  /** Run through `sh -c`. */
  command: string;
  cwd: string;
  timeoutMs: number;
  /** Appended to, with a header line; capped at `maxLogBytes`. */
  logFile: string;
  /** Extra variables on top of the allowlisted environment. */
  env?: Record<string, string>;
  /** Names (or `PREFIX*`) of variables allowed through from ratchet's own environment. */
  allowEnv?: readonly string[];
  /** Names never passed, whatever `allowEnv` says. */
  denyEnv?: readonly string[];
  signal?: AbortSignal;
  maxLogBytes?: number;
  captureBytes?: number;
  /** Run inside the sandbox (unless its mode resolves to none on this machine). */
  sandbox?: SandboxRequest;
  /** Memory and CPU for the command's whole process tree (`limits.memory`, `limits.cpu`). */
  limits?: { memoryBytes?: number | undefined; cpus?: number | undefined };
}

export interface CommandRunner {
  run(options: CommandOptions): Promise<CommandResult>;
}
