/**
 * The environment a command sees: ratchet's own environment filtered through an allowlist, so
 * a benchmark or an agent's test run never receives API keys, Redis URLs or cloud credentials.
 */

/** Always passed: what shells, compilers and locales need to behave normally. */
export const BASE_ENV_ALLOWLIST: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_*', 'TERM', 'TMPDIR', 'TZ'];

/** True when `name` is one of `patterns`; a pattern ending in `*` matches by prefix. */
export function isAllowed(name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern));
}

export interface ChildEnvOptions {
  /** Extra names (or `PREFIX*`) allowed through from `source`. */
  allowEnv?: readonly string[] | undefined;
  /** Set explicitly, on top of what the allowlist lets through. */
  env?: Record<string, string> | undefined;
  /** Never passed from `source`, whatever the allowlist says. */
  denyEnv?: readonly string[] | undefined;
}

/** The child environment: allowlisted variables of `source`, then `options.env`. */
export function childEnv(source: NodeJS.ProcessEnv, options: ChildEnvOptions = {}): Record<string, string> {
  const patterns = [...BASE_ENV_ALLOWLIST, ...(options.allowEnv ?? [])];
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && isAllowed(name, patterns) && !(options.denyEnv ?? []).includes(name)) result[name] = value;
  }
  return { ...result, ...options.env };
}
