import { describe, expect, it } from 'vitest';
import { metricNotFound, parseMetricValue, readMetric, readSecondary } from '../../src/eval/metric.js';

const x = { name: 'x' };

describe('readMetric', () => {
  it('says, when the metric is not found, every format it would have read', () => {
    const reading = readMetric('training done\nloss 0.31\n', { name: 'loss' });
    expect(reading).toEqual({
      ok: false,
      reason: 'metric "loss" not found in the bench output; print it as `METRIC loss=<number>`, a JSON line `{"loss": <number>}` or `loss: <number>`, or set bench.metric.pattern to a regex with one group',
    });
  });

  it.each([
    ['a METRIC line with =', 'METRIC x=1.5', 1.5],
    ['a METRIC line with a colon', 'METRIC x: 2.25', 2.25],
    ['a METRIC line with spaces around =', '  METRIC x = -3  ', -3],
    ['an exponent', 'METRIC x=1.2e-3', 0.0012],
    ['a leading dot', 'METRIC x=.5', 0.5],
    ['an explicit plus sign', 'METRIC x=+7', 7],
    ['a JSON object line', '{"x": 1.5, "y": 2}', 1.5],
    ['a JSON line giving the value as a string', '{"x": "42"}', 42],
    ['an autoresearch summary line', 'x: 0.9979', 0.9979],
    ['a summary line padded as train.py prints it', 'x:          0.9979', 0.9979],
    ['a value among other output', 'warming up\nstep 1 loss 3.2\nMETRIC x=10\ndone', 10],
    ['Windows line endings', 'noise\r\nMETRIC x=4\r\n', 4],
    ['a progress bar rewritten with \\r', 'x: 1\rx: 2\rx: 3', 3],
  ])('reads %s', (_label, output, value) => {
    expect(readMetric(output, x)).toEqual({ ok: true, value });
  });

  it.each([
    ['METRIC lines', 'METRIC x=1\nMETRIC x=2\nMETRIC x=3', 3],
    ['mixed formats, JSON last', 'METRIC x=1\nx: 2\n{"x": 3}', 3],
    ['mixed formats, METRIC last', '{"x": 1}\nx: 2\nMETRIC x=3\n', 3],
    ['repeated pattern matches', 'score 1\nscore 2\nscore 9', 9],
  ])('takes the last match of %s', (label, output, value) => {
    const metric = label.startsWith('repeated pattern') ? { name: 'x', pattern: 'score (\\d+)' } : x;
    expect(readMetric(output, metric)).toEqual({ ok: true, value });
  });

  it('reports the last value even when an earlier one was good', () => {
    expect(readMetric('METRIC x=1\nMETRIC x=nan', x)).toEqual({ ok: false, reason: 'metric "x" is not finite: nan' });
  });

  it.each([
    ['a different metric', 'METRIC y=1\ny: 2\n{"y": 3}'],
    ['a name that only starts the same', 'METRIC x_total=1\nxy: 2'],
    ['a name inside another word', 'max: 1\nMETRIC xx=2'],
    ['empty output', ''],
    ['a JSON array line', '[{"x": 1}]'],
    ['a JSON line that is not valid JSON', '{"x": 1,}'],
    ['a JSON object whose nested key matches', '{"a": {"x": 1}}'],
    ['a line that mentions the metric mid-sentence', 'the x: 1 we want'],
  ])('finds nothing in %s', (_label, output) => {
    expect(readMetric(output, x)).toEqual({ ok: false, reason: metricNotFound(x) });
  });

  it.each([
    ['a word', 'METRIC x=abc', 'metric "x" is not a number: "abc"'],
    ['an empty value', 'METRIC x=', 'metric "x" is not a number: ""'],
    ['a unit suffix', 'x: 12ms', 'metric "x" is not a number: "12ms"'],
    ['thousands separators', 'METRIC x=1,234', 'metric "x" is not a number: "1,234"'],
    ['hex', 'METRIC x=0x10', 'metric "x" is not a number: "0x10"'],
    ['trailing text', 'x: 0.99 (best)', 'metric "x" is not a number: "0.99 (best)"'],
    ['JSON null', '{"x": null}', 'metric "x" is not a number: "null"'],
    ['a JSON boolean', '{"x": true}', 'metric "x" is not a number: "true"'],
    ['NaN', 'METRIC x=NaN', 'metric "x" is not finite: NaN'],
    ['lower-case nan', 'x: nan', 'metric "x" is not finite: nan'],
    ['Infinity', 'METRIC x=Infinity', 'metric "x" is not finite: Infinity'],
    ['-inf', 'METRIC x=-inf', 'metric "x" is not finite: -inf'],
    ['an overflowing number', 'METRIC x=1e999', 'metric "x" is not finite: 1e999'],
    ['a bare NaN in a JSON line (Python json.dumps)', '{"x": NaN, "y": 1}', 'metric "x" is not finite: NaN'],
    ['a bare -Infinity in a JSON line', '{"y": 1, "x": -Infinity}', 'metric "x" is not finite: -Infinity'],
    ['a JSON string "NaN"', '{"x": "NaN"}', 'metric "x" is not finite: NaN'],
  ])('refuses %s', (_label, output, reason) => {
    expect(readMetric(output, x)).toEqual({ ok: false, reason });
  });

  it('escapes regex characters in the metric name', () => {
    expect(readMetric('METRIC a.b=1\nMETRIC aXb=2', { name: 'a.b' })).toEqual({ ok: true, value: 1 });
    expect(readMetric('val-bpb: 0.5', { name: 'val-bpb' })).toEqual({ ok: true, value: 0.5 });
  });

  describe('with a pattern', () => {
    it.each([
      ['a capture group', 'throughput: 123.4 ops/s', 'throughput: ([\\d.]+) ops/s', { ok: true, value: 123.4 }],
      ['a line anchor, line by line', 'a\nrss 100 MB\nb', '^rss (\\d+) MB$', { ok: true, value: 100 }],
      ['a non-numeric capture', 'speed: fast', 'speed: (\\w+)', { ok: false, reason: 'metric "x" is not a number: "fast"' }],
      ['a non-finite capture', 'speed: inf', 'speed: (\\w+)', { ok: false, reason: 'metric "x" is not finite: inf' }],
      ['no match', 'nothing here', 'speed: (\\d+)', { ok: false, reason: 'metric "x" not found in the bench output: no line matched bench.metric.pattern /speed: (\\d+)/' }],
      ['an optional group that did not take part', 'speed: ', 'speed: (\\d+)?', { ok: false, reason: 'metric "x" is not a number: ""' }],
    ])('reads %s', (_label, output, pattern, expected) => {
      expect(readMetric(output, { name: 'x', pattern })).toEqual(expected);
    });

    it('ignores the built-in formats', () => {
      expect(readMetric('METRIC x=1\nscore 5', { name: 'x', pattern: 'score (\\d+)' })).toEqual({ ok: true, value: 5 });
      expect(readMetric('METRIC x=1', { name: 'x', pattern: 'score (\\d+)' }).ok).toBe(false);
    });
  });

  it('never returns a non-finite value', () => {
    for (const raw of ['NaN', 'Infinity', '-Infinity', '1e400', '-1e400', 'inf', '+inf']) {
      const reading = parseMetricValue('x', raw);
      expect(reading.ok).toBe(false);
    }
  });
});

describe('readSecondary', () => {
  const output = ['METRIC x=1', 'METRIC rss_mb=300', 'peak_vram_mb: 45060.2', '{"memory_gb": 44.0}', 'METRIC broken=NaN', 'heap=77 MiB'].join('\n');

  it('returns the finite values it finds, by name, and leaves out the rest', () => {
    expect(readSecondary(output, ['rss_mb', 'peak_vram_mb', 'memory_gb', 'broken', 'absent'])).toEqual({
      rss_mb: 300,
      peak_vram_mb: 45060.2,
      memory_gb: 44,
    });
  });

  it('reads a constraint with its own pattern', () => {
    expect(readSecondary(output, [{ name: 'heap', pattern: 'heap=(\\d+) MiB' }, 'rss_mb'])).toEqual({ heap: 77, rss_mb: 300 });
  });

  it('returns an empty record when asked for nothing', () => {
    expect(readSecondary(output, [])).toEqual({});
  });
});

describe('a metric pattern against hostile output', () => {
  it('is tried line by line, skipping huge lines, so a backtracking pattern cannot hold the worker', async () => {
    const { readMetric } = await import('../../src/eval/metric.js');
    const output = `${'a '.repeat(500_000)}\nms: 12.5 ms\n`;
    const started = Date.now();
    expect(readMetric(output, { name: 'ms', pattern: '(\\S+) ms' })).toEqual({ ok: true, value: 12.5 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
