import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { validateTuneParams } from '../../src/agents/tune/index.js';
import { specSchema } from '../../src/domain/spec.js';
import { TARGETS } from './node-run.js';

const targets = readdirSync(TARGETS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe('bundled targets', () => {
  it('include the four documented ones, each with a README and an objective', () => {
    expect(targets).toEqual(expect.arrayContaining(['autoresearch', 'circle-packing', 'sort-speed', 'tiny-lm']));
    for (const name of targets) {
      expect(existsSync(join(TARGETS, name, 'README.md')), name).toBe(true);
      expect(existsSync(join(TARGETS, name, 'ratchet.yaml')), name).toBe(true);
    }
  });

  it.each(targets)('%s: ratchet.yaml is a valid spec', (name) => {
    const result = specSchema.safeParse(parse(readFileSync(join(TARGETS, name, 'ratchet.yaml'), 'utf8')));
    expect(result.error?.issues ?? [], name).toEqual([]);
    const spec = result.data!;
    // The objective is a file of autoresearch's repository there; here it ships with the target.
    if (name !== 'autoresearch') {
      expect(existsSync(join(TARGETS, name, spec.objective)), spec.objective).toBe(true);
      for (const file of spec.editable) expect(existsSync(join(TARGETS, name, file)), file).toBe(true);
    }
    expect(spec.protected).toContain('ratchet.yaml');
  });

  it.each(targets)('%s: every tune parameter is found once in its file, within range', async (name) => {
    const spec = specSchema.parse(parse(readFileSync(join(TARGETS, name, 'ratchet.yaml'), 'utf8')));
    if (spec.agent.kind !== 'tune') return;
    const located = await validateTuneParams(join(TARGETS, name), spec.agent.params);
    expect(located).toHaveLength(spec.agent.params.length);
    for (const l of located) expect(spec.editable).toContain(l.param.file);
  });

  it('has the deterministic tiny-lm measured once and the noisy sort-speed measured in repeats', () => {
    const read = (name: string) => specSchema.parse(parse(readFileSync(join(TARGETS, name, 'ratchet.yaml'), 'utf8')));
    expect(read('tiny-lm').bench).toMatchObject({ repeat: 1, metric: { name: 'val_bpb', goal: 'minimize' } });
    expect(read('sort-speed').bench).toMatchObject({ repeat: 5, max_repeat: 15, min_effect: { kind: 'relative', value: 0.01 } });
    expect(read('circle-packing').agent.kind).toBe('claude');
    const auto = read('autoresearch');
    expect(auto.bench).toMatchObject({ repeat: 1, timeout: 600_000, metric: { name: 'val_bpb', goal: 'minimize' } });
    expect(new RegExp(auto.bench.metric.pattern!).exec('---\nval_bpb:          0.997900\n')?.[1]).toBe('0.997900');
    const vram = auto.bench.constraints[0]!;
    expect(vram.metric).toBe('peak_vram_mb');
    expect(new RegExp(vram.pattern!).exec('peak_vram_mb:     45060.2')?.[1]).toBe('45060.2');
  });
});
