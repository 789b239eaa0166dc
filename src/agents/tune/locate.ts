/**
 * Where each tuned parameter lives in the target's files, and writing new values there. A
 * parameter is found by `name` (an assignment such as `NAME = 12`, `const NAME = 12;`,
 * `NAME: 12`, `"name": 12`, `--name 12`, `--name=12`) or by `pattern` (a regex whose one capture
 * group is the value). It must be found exactly once, hold a number of its type, within range.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { ValidationError, type Issue } from '../../domain/errors.js';
import type { TuneParam } from '../../domain/spec.js';
import { labelsOf, styleOf, type Dimension } from './space.js';

export interface LocatedParam {
  param: TuneParam;
  dimension: Dimension;
  /** The value as written in the file. */
  literal: string;
  value: number;
  /** Offsets of the literal in the file's text, and its 1-based line. */
  start: number;
  end: number;
  line: number;
}

/** A number literal as written in source and config files; `1_000` and hex are not. */
const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** The regex of a `name` parameter; the value is its last capture group. */
export function assignmentRegex(name: string): RegExp {
  const n = escapeRegex(name);
  const flag = String.raw`--${n}(?:=|[ \t]+)`;
  // An optional type annotation (`NAME: int = 12`, `const NAME: number = 12`) before the `=`.
  const annotation = String.raw`(?::[ \t]*[A-Za-z_][\w.[\]]*[ \t]*(?==))?`;
  const assignment = String.raw`(["']?)${n}\1[ \t]*${annotation}(?::?=|:)[ \t]*`;
  return new RegExp(String.raw`(?<![\w$-])(?:${flag}|${assignment})(${NUMBER})(?![\w.])`, 'gd');
}

interface Span {
  start: number;
  end: number;
  literal: string;
}

/** Every place the parameter occurs in `text`. */
export function findSpans(text: string, param: TuneParam): Span[] {
  const regex = param.pattern === undefined ? assignmentRegex(param.name!) : new RegExp(param.pattern, 'gmd');
  const spans: Span[] = [];
  for (const match of text.matchAll(regex)) {
    const group = match.length - 1;
    const at = match.indices?.[group];
    if (at === undefined) continue;
    spans.push({ start: at[0], end: at[1], literal: match[group]! });
    if (match[0] === '') break; // an empty match would repeat forever on a pattern like `(\d*)`
  }
  return spans;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Find every parameter in the files under `root` (a worktree or the repository). All problems
 * are reported at once, each naming the file and the parameter: a missing file, a name not
 * found or found more than once, a value that is not a number of its type or out of range.
 */
export async function locateParams(root: string, params: readonly TuneParam[], source = 'ratchet.yaml'): Promise<LocatedParam[]> {
  const labels = labelsOf(params);
  const issues: Issue[] = [];
  const located: LocatedParam[] = [];
  const texts = new Map<string, string | undefined>();

  for (const [i, param] of params.entries()) {
    const path = `agent.params.${i}`;
    const what = param.name === undefined ? `parameter ${labels[i]} (pattern ${param.pattern})` : `parameter ${param.name}`;
    const full = resolve(root, param.file);
    const rel = relative(resolve(root), full);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      issues.push({ path, message: `${what}: file ${param.file} is outside the target` });
      continue;
    }
    if (!texts.has(full)) texts.set(full, await readFile(full, 'utf8').catch(() => undefined));
    const text = texts.get(full);
    if (text === undefined) {
      issues.push({ path, message: `${what}: file ${param.file} not found` });
      continue;
    }
    const spans = findSpans(text, param);
    if (spans.length === 0) {
      const looked = param.name === undefined ? 'no match of the pattern' : `no assignment like "${param.name} = 1", "${param.name}: 1" or "--${param.name} 1"`;
      issues.push({ path, message: `${what} not found in ${param.file}: ${looked}` });
      continue;
    }
    if (spans.length > 1) {
      const lines = spans.map((s) => lineAt(text, s.start)).join(', ');
      issues.push({ path, message: `${what} is ambiguous in ${param.file}: found ${spans.length} times (lines ${lines}); give a pattern that matches once` });
      continue;
    }
    const span = spans[0]!;
    const value = Number(span.literal);
    const line = lineAt(text, span.start);
    const where = `${what} in ${param.file} line ${line}`;
    if (span.literal.trim() === '' || !Number.isFinite(value)) {
      issues.push({ path, message: `${where}: "${span.literal}" is not a number` });
      continue;
    }
    if (param.type === 'int' && !Number.isInteger(value)) {
      issues.push({ path, message: `${where}: ${span.literal} is not an int` });
      continue;
    }
    if (value < param.min || value > param.max) {
      issues.push({ path, message: `${where}: value ${span.literal} is outside its range [${param.min}, ${param.max}]` });
      continue;
    }
    const overlap = located.find((l) => l.param.file === param.file && l.start < span.end && span.start < l.end);
    if (overlap !== undefined) {
      issues.push({ path, message: `${where}: the same value as ${overlap.dimension.label}` });
      continue;
    }
    const dimension: Dimension = { label: labels[i]!, min: param.min, max: param.max, type: param.type, scale: param.scale, style: styleOf(span.literal) };
    located.push({ param, dimension, literal: span.literal, value, start: span.start, end: span.end, line });
  }
  if (issues.length > 0) throw new ValidationError(source, issues, 'fix the tune parameters in agent.params or the files they point at');
  return located;
}

/**
 * Check the spec's tune parameters against a worktree or the repository before a run starts;
 * throws a ValidationError listing every problem. Returns where each parameter was found.
 */
export function validateTuneParams(worktreeOrRepo: string, params: readonly TuneParam[], source?: string): Promise<LocatedParam[]> {
  return locateParams(worktreeOrRepo, params, source);
}

/** Write `values` (literals, one per located parameter) into the files, touching nothing else. */
export async function writeValues(root: string, located: readonly LocatedParam[], values: readonly string[]): Promise<void> {
  const byFile = new Map<string, { start: number; end: number; literal: string }[]>();
  located.forEach((l, i) => {
    const value = values[i]!;
    if (value === l.literal) return;
    const edits = byFile.get(l.param.file) ?? [];
    edits.push({ start: l.start, end: l.end, literal: value });
    byFile.set(l.param.file, edits);
  });
  for (const [file, edits] of byFile) {
    const full = resolve(root, file);
    let text = await readFile(full, 'utf8');
    // From the end backwards, so earlier offsets stay valid.
    for (const edit of edits.sort((a, b) => b.start - a.start)) {
      text = text.slice(0, edit.start) + edit.literal + text.slice(edit.end);
    }
    await writeFile(full, text);
  }
}
