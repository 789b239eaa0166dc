/**
 * Which paths the agent's tools may touch. Reads stay inside the worktree; writes also obey
 * the spec's editable and protected globs, checked on the path as given and on the file a
 * symlink leads to, so a link cannot smuggle an edit into a protected file. A refusal is a
 * sentence the model can act on, never an exception.
 */
import { lstat, realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { isEditable, matchesAny, type PathPolicy } from '../../plan/path-policy.js';

export type ResolvedPath = { ok: true; rel: string; abs: string } | { ok: false; message: string };

/** A repository-relative path inside the worktree, following symlinks only within it. */
export async function resolveInWorktree(worktree: string, input: string): Promise<ResolvedPath> {
  const given = input.trim();
  if (given === '') return refuse('the path is empty; give a path relative to the repository root, like src/main.js');
  if (given.startsWith('/') || given.startsWith('~') || /^[A-Za-z]:[\\/]/.test(given)) {
    return refuse(`${given} is absolute; give a path relative to the repository root, like src/main.js`);
  }
  const segments = given.replaceAll('\\', '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return refuse(`${given} contains "..": paths must stay inside the repository; give them relative to its root`);
  if (segments.length === 0) return refuse(`${given} is the repository root, not a file`);
  if (segments.includes('.git')) return refuse(`${given} is inside .git, which the tools do not touch`);
  const rel = segments.join('/');
  const root = await realpath(worktree);
  const abs = join(root, ...segments);
  const real = await realTarget(abs);
  if (real !== abs && !isInside(root, real)) return refuse(`${rel} leads outside the repository through a symlink`);
  return { ok: true, rel, abs };
}

/** `resolveInWorktree`, then the spec's globs on the path and on what it links to. */
export async function resolveForWrite(worktree: string, input: string, policy: PathPolicy): Promise<ResolvedPath> {
  const resolved = await resolveInWorktree(worktree, input);
  if (!resolved.ok) return resolved;
  const root = await realpath(worktree);
  const target = relative(root, await realTarget(resolved.abs)).split(sep).join('/');
  for (const path of target === resolved.rel ? [resolved.rel] : [resolved.rel, target]) {
    const why = refusalFor(path, policy);
    if (why !== undefined) return refuse(path === resolved.rel ? why : `${resolved.rel} links to ${target}: ${why}`);
  }
  return resolved;
}

function refusalFor(path: string, policy: PathPolicy): string | undefined {
  if (isEditable(path, policy)) return undefined;
  if (matchesAny(path, policy.protected)) {
    return `${path} is protected (protected: ${policy.protected.join(', ')}). Protected files belong to the evaluator and must not change; make your change in the code they measure instead.`;
  }
  return `${path} is not editable (editable: ${policy.editable.join(', ')}). Make your change in an editable file.`;
}

/** The real path of `abs`, or of its deepest existing ancestor joined with the rest. */
async function realTarget(abs: string): Promise<string> {
  let existing = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return abs;
      rest.unshift(existing.slice(parent.length + 1));
      existing = parent;
    }
  }
  try {
    return join(await realpath(existing), ...rest);
  } catch {
    // A dangling symlink: where it points is unknowable here, so treat it as leading nowhere safe.
    return '/';
  }
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

function refuse(message: string): ResolvedPath {
  return { ok: false, message: `Refused: ${message}` };
}
