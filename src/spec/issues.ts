/**
 * Wording of spec problems: one path format, readable messages in place of zod's defaults, and
 * "did you mean" suggestions. A leaf module (no schema import), so the schema can use it too.
 *
 * Path format: dotted keys with bracketed list indexes, `bench.metric.goal`, `checks[1].timeout`;
 * a key that is not a plain word is quoted, `agent.prices["gpt-4.1"]`. The root is ``.
 */
import type { z } from 'zod';
import { describeValue } from '../domain/describe-value.js';

export type PathSegment = string | number;

/** One problem before it is tied to a source (a line of the file, a flag). */
export interface Problem {
  path: PathSegment[];
  message: string;
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`benhc`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate a typo most likely meant (`maxRepeat` → `max_repeat`, `benhc` → `bench`). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');
  const target = norm(word);
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const other = norm(candidate);
    const score = distance(target, other);
    const allowed = Math.max(1, Math.floor(Math.max(target.length, other.length) / 3));
    if (score <= allowed && (best === undefined || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}

export function didYouMean(word: unknown, candidates: readonly string[]): string {
  if (typeof word !== 'string') return '';
  const guess = closest(word, candidates);
  return guess === undefined || guess === word ? '' : ` (did you mean "${guess}"?)`;
}

function oneOf(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(' | ');
}

function bound(issue: { origin: string; inclusive?: boolean; exact?: boolean }, limit: number | bigint, side: 'min' | 'max'): string {
  const n = Number(limit);
  if (issue.origin === 'array') {
    const items = `${n} item${n === 1 ? '' : 's'}`;
    return side === 'min' ? `needs at least ${items}` : `allows at most ${items}`;
  }
  if (issue.origin === 'string') {
    if (side === 'min' && n === 1) return 'must not be empty';
    return `must be ${side === 'min' ? 'at least' : 'at most'} ${n} characters`;
  }
  if (issue.inclusive === false) return `must be ${side === 'min' ? 'more' : 'less'} than ${n}`;
  return `must be ${side === 'min' ? 'at least' : 'at most'} ${n}`;
}

/**
 * Messages for zod's built-in issues. Passed per parse, so messages written in the schema
 * (`.min(1, 'must not be empty')`, refinements) still win over these.
 */
export function specErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  const got = (): string => `got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${typeName(issue.expected)}, ${got()}`;
    case 'invalid_value':
      if (issue.input === undefined) return `required, one of ${oneOf(issue.values)}`;
      return `expected ${oneOf(issue.values)}, ${got()}${didYouMean(issue.input, issue.values.map(String))}`;
    case 'too_small':
      return bound(issue, issue.minimum, 'min');
    case 'too_big':
      return bound(issue, issue.maximum, 'max');
    case 'invalid_format':
      if (issue.format === 'url') return `expected a URL, ${got()}`;
      if (issue.format === 'regex' && typeof issue.pattern === 'string') return `must match ${issue.pattern}, ${got()}`;
      return `expected a ${issue.format}, ${got()}`;
    case 'not_multiple_of':
      return `must be a multiple of ${Number(issue.divisor)}`;
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_key':
      return `invalid key ${describeValue(issue.input)}`;
    case 'invalid_union': {
      if (typeof issue.discriminator === 'string') {
        const options = Array.isArray(issue.options) ? issue.options : [];
        const input = issue.input;
        const kind = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[issue.discriminator] : undefined;
        if (kind === undefined) return `required, one of ${oneOf(options)}`;
        return `expected ${oneOf(options)}, got ${describeValue(kind)}${didYouMean(kind, options.map(String))}`;
      }
      if (issue.input === undefined) return 'required';
      const expected = new Set<string>();
      for (const branch of issue.errors) for (const inner of branch) if (inner.code === 'invalid_type') expected.add(typeName(inner.expected));
      return expected.size > 0 ? `expected ${[...expected].join(' or ')}, ${got()}` : `not a valid value, ${got()}`;
    }
    default:
      return undefined;
  }
}
