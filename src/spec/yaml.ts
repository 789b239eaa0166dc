/**
 * ratchet.yaml as text: the YAML stage of validation (syntax, with line:col) and the writer
 * behind `ratchet init` (keys in schema order, a comment on the keys a newcomer needs).
 */
import { z } from 'zod';
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { formatPath, type PathSegment } from './issues.js';
import type { SpecInput } from '../domain/spec.js';
import { schemaAt, specError } from './validate.js';

/** The parsed YAML of a spec, not yet validated, and where each of its values sits in the text. */
export interface SpecDocument {
  /** The plain value of the document (`{}` for an empty file). */
  input: unknown;
  source: string;
  /** The 1-based line of the value at `path`, or of its nearest ancestor that exists. */
  lineOf: (path: readonly PathSegment[]) => number | undefined;
}

/** The YAML stage: every syntax error at once, each with its line:col. */
export function parseSpecYaml(text: string, source: string): SpecDocument {
  const lineCounter = new LineCounter();
  // logLevel: yaml's warnings (a mapping used as a key) would go to stderr past the CLI's output
  // layer; what they point at is reported as a problem anyway.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw specError(
      source,
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', message: `YAML syntax error at line ${line}:${col}: ${message}` };
      }),
    );
  }
  let input: unknown;
  try {
    input = doc.contents === null ? {} : doc.toJS();
  } catch (error) {
    // Aliases resolve only here: one without its anchor, or a "billion laughs" past yaml's
    // alias limit, throws rather than landing in doc.errors.
    throw specError(source, [{ path: '', message: `YAML error: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  const lineOf = (path: readonly PathSegment[]): number | undefined => {
    let node: unknown = doc.contents;
    let offset: number | undefined;
    for (const segment of path) {
      let next: { at: number | undefined; node: unknown } | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
        if (pair !== undefined) next = { at: (pair.key as Node | null)?.range?.[0], node: pair.value };
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item !== undefined) next = { at: (item as Node | null)?.range?.[0], node: item };
      }
      if (next === undefined) break;
      offset = next.at ?? offset;
      node = next.node;
    }
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  return { input, source, lineOf };
}

const COMMENTS: Record<string, string> = {
  objective: 'What to improve: prose, or the path of a markdown file in this repository.',
  editable: 'Globs the agent may change; empty means everything not protected.',
  protected: 'Globs the agent must never change: the tests, the bench, this file.',
  setup: 'Runs once per worktree, before the checks.',
  checks: 'Each must pass (exit 0) before a candidate is measured.',
  bench: 'Measures a candidate: prints `METRIC <name>=<value>` or a JSON line (or set metric.pattern).',
  'bench.repeat': 'Runs per candidate, alternating with its parent; 1 for a deterministic metric.',
  'bench.min_effect': 'Smallest change worth keeping: metric units, or a percentage like 1%.',
  holdout: 'A second evaluation the agent never sees, in a folder outside the repository: a keep that fails it is overfit.',
  budget: 'The run stops at the first limit it reaches.',
  agent: 'What proposes changes: claude, command, tune or replay.',
};

const HEADER = ' ratchet.yaml: what to improve, how to check it and how to measure it.\n `ratchet schema` prints every key with its type and default (JSON Schema, for editors).';

/** Guidance written as comments where `ratchet init` could not fill in a required part. */
export interface Guidance {
  objective?: string;
  bench?: string;
}

/** A spec as a clean ratchet.yaml. */
export function specToYaml(input: SpecInput): string {
  return renderSpecYaml(input);
}

/** Like `specToYaml`, for a spec still missing parts (`ratchet init` without a bench). */
export function renderSpecYaml(input: object, guidance: Guidance = {}): string {
  const ordered = orderKeys(input, [], input);
  const doc = new Document(ordered);
  doc.commentBefore = [HEADER, guidance.objective].filter((c) => c !== undefined).join('\n\n');
  if (isMap(doc.contents)) {
    decorate(doc.contents, []);
    doc.contents.items.forEach((pair, i) => {
      if (i > 0 && isScalar(pair.key)) pair.key.spaceBefore = true;
    });
  }
  if (guidance.bench !== undefined) doc.comment = guidance.bench;
  return doc.toString({ lineWidth: 100 });
}

/** Keys in the order the schema declares them, so every written spec reads the same way. */
function orderKeys(value: unknown, path: PathSegment[], root: unknown): unknown {
  if (Array.isArray(value)) return value.map((item: unknown, i) => orderKeys(item, [...path, i], root));
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const schema = schemaAt(path, root);
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const keys = [...known.filter((k) => k in record), ...Object.keys(record).filter((k) => !known.includes(k))];
  return Object.fromEntries(keys.filter((k) => record[k] !== undefined).map((k) => [k, orderKeys(record[k], [...path, k], root)]));
}

function decorate(node: unknown, path: PathSegment[]): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const childPath = [...path, String(pair.key.value)];
      const comment = COMMENTS[formatPath(childPath)];
      if (comment !== undefined) pair.key.commentBefore = ` ${comment}`;
      decorate(pair.value, childPath);
    }
    node.flow = path.length > 0 && isShortAndFlat(node);
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => decorate(item, [...path, i]));
    node.flow = isShortAndFlat(node);
  }
}

/** Lists and mappings of a few plain values read best on one line: `{ name: test, run: npm test }`. */
function isShortAndFlat(node: { items: unknown[]; toJSON: () => unknown }): boolean {
  const flat = node.items.every((item) => isScalar(item) || (typeof item === 'object' && item !== null && 'value' in item && isScalar(item.value)));
  const json = JSON.stringify(node.toJSON());
  // A value with a line break would be written as a block scalar, which a flow collection cannot hold.
  return flat && json.length <= 70 && !/\\[nr]|\u2028|\u2029/.test(json);
}
