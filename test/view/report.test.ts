/**
 * `report` on the fixture run: the chart file (SVG and PNG) and the markdown summary.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { report } from '../../src/view/report/report.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');

let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'ratchet-report-'));
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

describe('report', () => {
  it('writes an SVG chart with one mark per finished experiment and a label per kept change', async () => {
    const result = await report({ runDir: FIXTURE, out: join(out, 'progress.svg') });
    expect(result.chartPath).toBe(join(out, 'progress.svg'));
    const svg = await readFile(result.chartPath!, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(count(svg, /<circle class="point /g)).toBe(9);
    expect(count(svg, /<circle class="point keep /g)).toBe(3);
    expect(count(svg, /<circle class="point discard /g)).toBe(2);
    expect(count(svg, /<circle class="point failed /g)).toBe(3);
    const labels = [...svg.matchAll(/<text class="label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels).toEqual([
      'baseline',
      'switch to insertion sort below 16 elements',
      'pick the pivot as the median of three',
      'hoist the comparator out of the inner loop',
    ]);
    expect(svg).toContain('2026-11-21-sort-a1b2: 8 experiments, 3 kept');
    expect(count(svg, /<path class="best"/g)).toBe(1);
  });

  it('writes a PNG rasterised from the same chart, at twice its size', async () => {
    const result = await report({ runDir: FIXTURE, out: join(out, 'nested', 'progress.png'), width: 800, height: 400 });
    const png = await readFile(result.chartPath!);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR: width and height, big-endian, at bytes 16..24.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1600, 800]);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it('summarises the run in markdown', async () => {
    const { markdown } = await report({ runDir: FIXTURE });
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('# ratchet run 2026-11-21-sort-a1b2');
    expect(lines).toEqual(
      expect.arrayContaining([
        '> Make sort() faster on arrays of 10k random integers without breaking stability.',
        '- metric: ops_per_sec, higher is better',
        '- status: running (in flight: e0009)',
        '- baseline: 1000 (e0000)',
        '- best: 1290 (e0008, commit 8a7c3e9, branch ratchet/2026-11-21-sort-a1b2/best)',
        '- gain: +29.0% over the baseline',
        '- experiments: 8 (3 keep, 2 discard, 1 checks_failed, 1 crash, 1 rejected)',
        '- cost: $0.36 (73,000 input and 7,300 output tokens)',
        '- duration: 13m 49s (experiments took 12m 02s in all)',
      ]),
    );
    const table = lines.slice(lines.indexOf('## Kept changes') + 2);
    expect(table.slice(0, 5)).toEqual([
      '| # | experiment | description | ops_per_sec | gain | vs baseline |',
      '| ---: | --- | --- | ---: | ---: | ---: |',
      '| 1 | e0001 | switch to insertion sort below 16 elements | 1120 | +12.0% | +12.0% |',
      '| 2 | e0004 | pick the pivot as the median of three | 1210 | +8.0% | +21.0% |',
      '| 3 | e0008 | hoist the comparator out of the inner loop | 1290 | +6.6% | +29.0% |',
    ]);
    expect(markdown).not.toContain('![progress]');
  });

  it('writes the markdown with a link to the chart relative to it', async () => {
    const result = await report({ runDir: FIXTURE, out: join(out, 'charts', 'progress.svg'), md: join(out, 'REPORT.md') });
    expect(result.mdPath).toBe(join(out, 'REPORT.md'));
    const written = await readFile(join(out, 'REPORT.md'), 'utf8');
    expect(written).toBe(result.markdown);
    expect(written.trimEnd().split('\n').at(-1)).toBe('![progress](charts/progress.svg)');
  });

  it('refuses a chart format it cannot write, suggesting .svg', async () => {
    const error: unknown = await report({ runDir: FIXTURE, out: join(out, 'progress.jpg') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain('.jpg');
    expect((error as UserError).hint).toContain('.svg');
  });

  it('says when the folder is not a run', async () => {
    await expect(report({ runDir: out })).rejects.toThrow(/no run at/);
  });
});
