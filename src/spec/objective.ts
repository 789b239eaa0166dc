/**
 * The objective as prose. `objective:` is either inline prose or the path of a file in the
 * repository (like autoresearch's `program.md`), read once when the run starts.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Spec } from '../domain/spec.js';
import { specError } from './validate.js';

/** A single word ending in a text extension reads as a file name, never as prose. */
export function looksLikeObjectiveFile(objective: string): boolean {
  return /^\S+\.(md|markdown|txt)$/i.test(objective.trim());
}

export async function resolveObjective(spec: Pick<Spec, 'objective'>, repoDir: string, source = 'ratchet.yaml'): Promise<string> {
  const objective = spec.objective.trim();
  if (objective.includes('\n')) return objective;
  const path = resolve(repoDir, objective);
  const kind = await stat(path).then(
    (s) => (s.isFile() ? 'file' : 'other'),
    () => 'missing',
  );
  if (kind === 'file') {
    const text = (await readFile(path, 'utf8')).trim();
    if (text === '') throw specError(source, [{ path: 'objective', message: `file ${objective} is empty` }]);
    return text;
  }
  if (!looksLikeObjectiveFile(objective)) return objective;
  const problem = kind === 'missing' ? `file ${objective} not found in ${repoDir}` : `${objective} in ${repoDir} is not a file`;
  throw specError(source, [{ path: 'objective', message: problem }]);
}
