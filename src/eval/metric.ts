/**
 * Reads a metric from a bench's output. Pure. Formats, in any mix, the last match winning:
 *
 *   METRIC name=1.5        (also `METRIC name: 1.5`)
 *   {"name": 1.5, ...}     (a whole line that parses as a JSON object with that key)
 *   name: 1.5              (as autoresearch's train.py prints `val_bpb: 0.9979`)
 *
 * or, when the spec gives `pattern`, only the last match of that regex's one capture group.
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
    // "not finite" rather than vanish as "not found".
    parsed = JSON.parse(line.replace(/(?<=[:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '"$1"'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.hasOwn(parsed, name)) return undefined;
  const value = (parsed as Record<string, unknown>)[name];
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** The raw text of the last value the output gives `metric`, or undefined. */
function lastRawValue(output: string, metric: MetricSource): string | undefined {
  if (metric.pattern !== undefined) {
    let last: string | undefined;
    for (const match of output.matchAll(new RegExp(metric.pattern, 'gm'))) last = match[1] ?? '';
    return last;
  }
  const name = escapeRegExp(metric.name);
  const prefixed = new RegExp(`^METRIC\\s+${name}\\s*[=:]\\s*(.*)$`);
  const plain = new RegExp(`^${name}\\s*:\\s*(.*)$`);
  // Progress bars rewrite a line with \r: each rewrite counts as a line.
  const lines = output.split(/\r\n|\r|\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    const value = prefixed.exec(line)?.[1] ?? plain.exec(line)?.[1] ?? fromJsonLine(line, metric.name);
    if (value !== undefined) return value;
  }
  return undefined;
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
  const values: Record<string, number> = {};
  for (const metric of metrics) {
    const source = typeof metric === 'string' ? { name: metric } : metric;
    const reading = readMetric(output, source);
    if (reading.ok) values[source.name] = reading.value;
  }
  return values;
}
