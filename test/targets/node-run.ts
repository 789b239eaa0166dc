/** Run a target's script with this Node, the way ratchet's checks and benches would. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TARGETS = fileURLToPath(new URL('../../targets/', import.meta.url));

export interface NodeRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(cwd: string, args: string[], env: Record<string, string> = {}): NodeRun {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The value of the last `METRIC name=value` line, as ratchet reads it. */
export function metricOf(stdout: string, name: string): number | undefined {
  const matches = [...stdout.matchAll(new RegExp(`^METRIC ${name}=(\\S+)$`, 'gm'))];
  const last = matches.at(-1);
  return last === undefined ? undefined : Number(last[1]);
}
