/**
 * Reads a metric from a bench's output. Pure. Formats, in any mix, the last match winning:
 *
 *   METRIC name=1.5        (also `METRIC name: 1.5`)
 *   {"name": 1.5, ...}     (a whole line that parses as a JSON object with that key)
 *   name: 1.5              (as autoresearch's train.py prints `val_bpb: 0.9979`)
 *
 * or, when the spec gives `pattern`, only the last match of that regex's one capture group, tried
 * on each line of up to 4 KB (so it never spans lines).
 * A value that is missing, not a number or not finite is a reason, never a number.
 */

export interface MetricSource {
  name: string;
  /** A regex with one capture group; replaces the built-in formats. */
  pattern?: string | undefined;
}

export type MetricReading = { ok: true; value: number } | { ok: false; reason: string };

/** A plain decimal number, as benches print them; no hex, no thousands separators, no units. */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Turns the text of a value into a reading. */
export function parseMetricValue(name: string, raw: string): MetricReading {
  const text = raw.trim();
  if (NUMBER.test(text)) {
    const value = Number(text);
    // `1e999` is a valid-looking number that overflows.
    if (Number.isFinite(value)) return { ok: true, value };
    return { ok: false, reason: `metric "${name}" is not finite: ${text}` };
  }
  if (NON_FINITE.test(text)) return { ok: false, reason: `metric "${name}" is not finite: ${text}` };
  return { ok: false, reason: `metric "${name}" is not a number: ${JSON.stringify(text)}` };
}

/** The value a JSON line gives `name`, as text, or undefined when the line does not give it. */
function fromJsonLine(line: string, name: string): string | undefined {
  if (!line.startsWith('{') || !line.endsWith('}') || !line.includes(name)) return undefined;
  let parsed: unknown;
  try {
    // Python's json.dumps writes NaN and Infinity bare: quote them so they parse, then fail as
    // "not finite" rather than vanish as "not found". No lookbehind: `(?<=[:,[]\s*)` rescans a
    // run of spaces from each of its positions, quadratic in a long line.
    parsed = JSON.parse(line.replace(/([:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"$2"'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.hasOwn(parsed, name)) return undefined;
  const value = (parsed as Record<string, unknown>)[name];
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Longest line a `pattern:` is tried on. */
const MAX_PATTERN_LINE = 4096;

/** The raw text of the last value the output gives `metric`, or undefined. */
function lastRawValue(output: string, metric: MetricSource): string | undefined {
  if (metric.pattern !== undefined) {
    // Line by line, long lines skipped: the candidate writes the output, and a backtracking
    // pattern on one huge line would hold the worker for minutes. No metric line is that long.
    const pattern = new RegExp(metric.pattern);
    let last: string | undefined;
    for (const line of output.split(/\r?\n/)) {
      if (line.length > MAX_PATTERN_LINE) continue;
      const match = pattern.exec(line);
      if (match !== null) last = match[1] ?? '';
    }
    return last;
  }
  const name = escapeRegExp(metric.name);
  // `s`: a value holding U+2028 or U+2029 (line breaks to a regex, not to a terminal) is still
  // this line's value, not a reason to fall back to an earlier line.
  const prefixed = new RegExp(`^METRIC\\s+${name}\\s*[=:]\\s*(.*)$`, 's');
  const plain = new RegExp(`^${name}\\s*:\\s*(.*)$`, 's');
  for (const text of linesNaming(output, metric.name)) {
    const line = text.trim();
    const value = prefixed.exec(line)?.[1] ?? plain.exec(line)?.[1] ?? fromJsonLine(line, metric.name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * The lines of `output` that hold `name`, last first: every built-in format names the metric
 * on its line, so 5 MB of other output costs a search, not a split into millions of lines.
 * Progress bars rewrite a line with \r: each rewrite counts as a line.
 */
function* linesNaming(output: string, name: string): Generator<string> {
  const isBreak = (at: number): boolean => output.charCodeAt(at) === 10 || output.charCodeAt(at) === 13;
  for (let at = output.lastIndexOf(name); at !== -1; ) {
    let start = at;
    while (start > 0 && !isBreak(start - 1)) start--;
    let end = at;
    while (end < output.length && !isBreak(end)) end++;
    yield output.slice(start, end);
    // Each line is looked at once: the next search starts before this one.
    at = start === 0 ? -1 : output.lastIndexOf(name, start - 1);
  }
}

/** Why a metric is missing, naming what would have been read: a new user's first failed bench. */
export function metricNotFound(metric: MetricSource): string {
  const { name } = metric;
  if (metric.pattern !== undefined) return `metric "${name}" not found in the bench output: no line matched bench.metric.pattern /${metric.pattern}/`;
  return `metric "${name}" not found in the bench output; print it as \`METRIC ${name}=<number>\`, a JSON line \`{"${name}": <number>}\` or \`${name}: <number>\`, or set bench.metric.pattern to a regex with one group`;
}

export function readMetric(output: string, metric: MetricSource): MetricReading {
  const raw = lastRawValue(output, metric);
  if (raw === undefined) return { ok: false, reason: metricNotFound(metric) };
  return parseMetricValue(metric.name, raw);
}

/**
 * The secondary metrics (constraints, memory) the output gives a finite value, by name. Those
 * missing or unreadable are left out: whether that matters is the decision's business.
 */
export function readSecondary(output: string, metrics: readonly (string | MetricSource)[]): Record<string, number> {
  const values: [string, number][] = [];
  for (const metric of metrics) {
    const source = typeof metric === 'string' ? { name: metric } : metric;
    const reading = readMetric(output, source);
    if (reading.ok) values.push([source.name, reading.value]);
  }
  // Own properties: assigning `values.__proto__ = 3` would set the prototype, not a metric.
  return Object.fromEntries(values);
}
