/**
 * The metric reader on any bench output: a finite number or a reason, never a throw, in time
 * linear in the output; a METRIC line anywhere is found and the last one wins.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constraintViolation } from '../../src/plan/constraints.js';
import { readMetric, readSecondary, type MetricReading } from '../../src/eval/metric.js';
import { parseSpec } from '../../src/spec/load.js';
import { AWKWARD, awkwardText, hugeText, joinLines, lineEnding, numberText, within } from './arbitraries.js';

/** Names as specs allow them, prototype keys included (a constraint's metric is any string). */
const metricName = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][\w.-]{0,12}$/),
  fc.constantFrom('x', 'val_bpb', 'ms', 'a.b', 'a-b', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'),
);
/**
 * Patterns the spec accepts (one capture group). Not `(\\S+) ms`: a pattern that backtracks is
 * quadratic in a long line, and that is the pattern's cost, not the reader's.
 */
const pattern = fc.constantFrom('score (\\d+)', 'x=([^ ]*)', '^(.*)$', '"x":\\s*([-\\d.e]+)', '(a*)', 'ms=(\\d+)$');
const source = fc.oneof(metricName.map((name) => ({ name })), fc.tuple(metricName, pattern).map(([name, p]) => ({ name, pattern: p })));

/** Output lines as benches print them: noise, near-misses of every format, progress bars. */
function outputLine(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    awkwardText(8),
    fc.constantFrom(...AWKWARD),
    fc.tuple(fc.constantFrom(`METRIC ${name}=`, `METRIC ${name}:`, `${name}: `, `{"${name}": `, `METRIC ${name}`, `METRIC${name}=`, `metric ${name}=`), fc.oneof(numberText, awkwardText(3))).map(([a, b]) => `${a}${b}`),
    fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify({ [name]: value })),
  );
}
const output = (name: string): fc.Arbitrary<string> =>
  fc.tuple(fc.array(outputLine(name), { maxLength: 20 }), fc.array(lineEnding, { minLength: 1, maxLength: 3 })).map(([lines, endings]) => joinLines(lines, endings));

function expectReading(reading: MetricReading): void {
  if (reading.ok) expect(Number.isFinite(reading.value)).toBe(true);
  else expect(reading.reason).toMatch(/\S/);
}

/** Values as a bench prints them: String(n) of any finite double (1e+21, 5e-324, -0 printed as 0). */
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });

describe('readMetric', () => {
  it('answers any output with a finite number or a reason', () => {
    fc.assert(
      fc.property(
        source.chain((metric) => fc.tuple(fc.constant(metric), fc.oneof(output(metric.name), awkwardText(40)))),
        ([metric, text]) => {
          expectReading(within(1_000, () => readMetric(text, metric)));
          const secondary = readSecondary(text, [metric]);
          expect(Object.values(secondary).every(Number.isFinite)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('finds a METRIC line anywhere, in any format, whatever the line endings around it', () => {
    const format = fc.constantFrom(
      (name: string, v: string) => `METRIC ${name}=${v}`,
      (name: string, v: string) => `  METRIC ${name} : ${v}\t`,
      (name: string, v: string) => `${name}: ${v}`,
      (name: string, v: string) => `{"${name}": ${v}, "other": "METRIC ${name}=0"}`,
    );
    fc.assert(
      fc.property(
        metricName.chain((name) => fc.tuple(fc.constant(name), output(name), output(name))),
        format,
        finite,
        lineEnding,
        ([name, before, after], write, value, ending) => {
          // Whatever follows the line must not give the metric itself, or it would rightly win.
          const alone = readMetric(after, { name });
          fc.pre(!alone.ok && alone.reason.includes('not found'));
          const text = `${before}${ending}${write(name, String(value))}${ending}${after}`;
          expect(readMetric(text, { name })).toEqual({ ok: true, value: Number(String(value)) });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('takes the last of several METRIC lines', () => {
    fc.assert(
      fc.property(metricName, fc.array(finite, { minLength: 1, maxLength: 10 }), fc.array(awkwardText(4), { maxLength: 10 }), lineEnding, (name, values, noise, ending) => {
        // Noise before each METRIC line, on a line of its own; nothing after the last one.
        const lines = values.flatMap((value, i) => [(noise[i] ?? '').replace(/[\r\n]/g, ''), `METRIC ${name}=${value}`]);
        const last = values[values.length - 1]!;
        expect(readMetric(lines.join(ending), { name })).toEqual({ ok: true, value: Number(String(last)) });
      }),
    );
  });

  it('gives a reason, never a number, for a value that is missing, not a number or not finite', () => {
    const notFinite = fc.oneof(fc.constantFrom('', 'nan', 'NaN', '-inf', 'Infinity', '1e999', '-1e309', '9'.repeat(400), '0x10', '1,5', 'one', '1 2', '\0', '2\u2028oops', '2\u2029 3'), awkwardText(3).filter((s) => !/[\r\n]/.test(s) && !/^\s*[+-]?(\d|\.\d)/.test(s)));
    fc.assert(
      fc.property(metricName, notFinite, (name, raw) => {
        const reading = readMetric(`METRIC ${name}=1\nMETRIC ${name}=${raw}`, { name });
        expect(reading).toMatchObject({ ok: false });
      }),
    );
  });

  describe('in time linear in the output', () => {
    const shapes = fc.constantFrom(
      (fill: string, size: number) => `${fill.repeat(size / fill.length)}\nMETRIC x=1`,
      (fill: string, size: number) => `{"x":${fill.repeat(size / fill.length)}}`,
      (fill: string, size: number) => `{"x": [${fill.repeat(size / fill.length)}NaN]}`,
      (fill: string, size: number) => `METRIC x=${fill.repeat(size / fill.length)}`,
      (fill: string, size: number) => `x${fill.repeat(size / fill.length)}: 1`,
      (fill: string, size: number) => `${`${fill}\n`.repeat(size / (fill.length + 1))}`,
      (fill: string, size: number) => `${`METRIC x=${fill}\r`.repeat(size / (fill.length + 10))}`,
    );
    // Runs of whitespace are what makes a regex backtrack, so they come up half the time.
    const fill = fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(' ', '\t', '\u3000', ' \u2028', '  \t') },
      { weight: 1, arbitrary: fc.constantFrom('x', '{', ':', ', ', '\0', 'é', '😀', '\r', '[', 'NaN ', ': ', '"x"') },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 4 }) },
    );

    it('reads outputs of 50 KB and 500 KB of any shape in bounded time', () => {
      // The small sizes first and often: a quadratic reader fails here in a second instead
      // of hanging on 5 MB for hours.
      fc.assert(
        fc.property(shapes, fill, (shape, piece) => {
          for (const [size, ms] of [[50_000, 200], [500_000, 500]] as const) {
            const text = shape(piece, size);
            expectReading(within(ms, () => readMetric(text, { name: 'x' })));
          }
        }),
        { numRuns: 120 },
      );
    });

    it('reads a 5 MB output of any shape in well under a second', () => {
      fc.assert(
        fc.property(shapes, fill, (shape, piece) => {
          expectReading(within(200, () => readMetric(shape(piece, 50_000), { name: 'x' })));
          const text = shape(piece, 5_000_000);
          expectReading(within(1_000, () => readMetric(text, { name: 'x' })));
        }),
        { numRuns: 10 },
      );
    });
  });

  it('reads a huge output of random pieces with a pattern in bounded time', () => {
    fc.assert(
      fc.property(hugeText(1_000_000), pattern, (text, p) => {
        expectReading(within(2_000, () => readMetric(text, { name: 'x', pattern: p })));
      }),
      { numRuns: 10 },
    );
  });
});

describe('readSecondary and constraints', () => {
  it('gives exactly the metrics the output gives a finite value, under their own names', () => {
    fc.assert(
      fc.property(fc.uniqueArray(metricName, { maxLength: 4 }).chain((names) => fc.tuple(fc.constant(names), output(names[0] ?? 'x'))), ([names, text]) => {
        const values = readSecondary(text, names);
        for (const name of names) {
          const reading = readMetric(text, { name });
          expect([name, Object.hasOwn(values, name) ? values[name] : 'absent']).toEqual([name, reading.ok ? reading.value : 'absent']);
        }
        expect(Object.keys(values).filter((key) => !names.includes(key))).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('counts a constraint whose metric the output does not give as broken, whatever its name', () => {
    fc.assert(
      fc.property(metricName, fc.oneof(awkwardText(10), fc.constant('')), (name, text) => {
        fc.pre(!readMetric(text, { name }).ok);
        const spec = parseSpec(
          `objective: x\nbench:\n  run: node bench.js\n  metric: { name: ms, goal: minimize }\n  constraints: [{ metric: ${JSON.stringify(name)}, max: 100 }]\n`,
          'ratchet.yaml',
        );
        expect(constraintViolation(spec.bench, readSecondary(text, spec.bench.constraints.map((c) => c.metric)))).toMatch(/not found/);
      }),
      { numRuns: 300 },
    );
  });
});
