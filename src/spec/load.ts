/**
 * Reading a target's spec in stages: find the file, parse the YAML (syntax errors with
 * line:col), then validate the whole against the schema. Each stage reports every problem it
 * finds at once as one `ValidationError`; nothing runs on a bad spec.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { UserError, type Issue } from '../domain/errors.js';
import { formatPath, type PathSegment, type Problem } from './issues.js';
import type { Spec } from '../domain/spec.js';
import { checkSpec, specError } from './validate.js';
import { parseSpecYaml, type SpecDocument } from './yaml.js';
import { isFile } from '../util/fs.js';

export const SPEC_FILE_NAMES = ['ratchet.yaml', 'ratchet.yml'] as const;

export interface LoadOptions {
  /** An explicit spec file, absolute or relative to the repository; it must exist. */
  file?: string;
}

/** The spec file of a repository, or undefined when it has none. */
export async function findSpecFile(repoDir: string, options: LoadOptions = {}): Promise<string | undefined> {
  if (options.file !== undefined) {
    const path = isAbsolute(options.file) ? options.file : join(repoDir, options.file);
    if (!(await isFile(path))) throw new UserError(`spec file ${path} not found`, { hint: 'check the path given to --spec' });
    return path;
  }
  const found: string[] = [];
  for (const name of SPEC_FILE_NAMES) if (await isFile(join(repoDir, name))) found.push(join(repoDir, name));
  // Two specs would make which one runs a guess; the user decides.
  if (found.length > 1) throw new UserError(`${repoDir} has both ratchet.yaml and ratchet.yml`, { hint: 'keep one of them' });
  return found[0];
}

/** The spec file parsed as YAML but not yet validated (flags are merged into it first). */
export async function readSpecFile(repoDir: string, options: LoadOptions = {}): Promise<SpecDocument | undefined> {
  const path = await findSpecFile(repoDir, options);
  if (path === undefined) return undefined;
  return parseSpecYaml(await readFile(path, 'utf8'), path);
}

/** The validated spec of a repository, or undefined when it has no ratchet.yaml. */
export async function loadSpec(repoDir: string, options: LoadOptions = {}): Promise<{ spec: Spec; source: string } | undefined> {
  const doc = await readSpecFile(repoDir, options);
  return doc === undefined ? undefined : { spec: validateSpecDocument(doc), source: doc.source };
}

/** A spec from its text; `source` names it in messages (usually the file's path). */
export function parseSpec(text: string, source: string): Spec {
  return validateSpecDocument(parseSpecYaml(text, source));
}

/** The schema stage for a parsed file: every problem, each with its path and line. */
export function validateSpecDocument(doc: SpecDocument): Spec {
  const result = checkSpec(doc.input);
  if (result.ok) return result.spec;
  throw specError(doc.source, problemsToIssues(result.problems, doc.lineOf));
}

/** Problems as issues, in file order when lines are known, each naming its line. */
export function problemsToIssues(problems: readonly Problem[], lineOf?: (path: readonly PathSegment[]) => number | undefined): Issue[] {
  const located = problems.map((problem, order) => ({ problem, order, line: lineOf?.(problem.path) }));
  located.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.order - b.order);
  return located.map(({ problem, line }) => ({
    path: formatPath(problem.path),
    message: line === undefined ? problem.message : `${problem.message} (line ${line})`,
  }));
}

