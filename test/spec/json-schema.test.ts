import { describe, expect, it } from 'vitest';
import { specJsonSchema } from '../../src/spec/json-schema.js';
import { parseSpec } from '../../src/spec/load.js';

type JsonSchema = { properties?: Record<string, JsonSchema>; additionalProperties?: JsonSchema | boolean; items?: JsonSchema; oneOf?: JsonSchema[]; anyOf?: JsonSchema[] };

/** Every key path of `value` that the schema does not declare. */
function undeclared(value: unknown, schema: JsonSchema, path: string): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => (schema.items ? undeclared(item, schema.items, `${path}[${i}]`) : []));
  if (typeof value !== 'object' || value === null) return [];
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) {
    // The branch that declares every key, if any: a discriminated union's matching kind.
    const fits = branches.map((branch) => undeclared(value, branch, path));
    return fits.find((missing) => missing.length === 0) ?? fits[0] ?? [`${path}`];
  }
  return Object.entries(value).flatMap(([key, inner]) => {
    const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    const child = schema.properties?.[key] ?? extra;
    return child ? undeclared(inner, child, `${path}.${key}`) : [`${path}.${key}`];
  });
}

describe('specJsonSchema', () => {
  const good = {
    objective: 'program.md',
    editable: ['src/sort.js'],
    protected: ['bench/**'],
    setup: 'npm ci',
    checks: [{ name: 'test', run: 'npm test', timeout: '2m' }],
    bench: { run: 'node bench.js', timeout: '5m', metric: { name: 'ops', goal: 'maximize' }, constraints: [{ metric: 'rss_mb', max: 512 }], repeat: 10, min_effect: '1%' },
    budget: { experiments: 100, duration: '8h', usd: 20, consecutive_failures: 10 },
    agent: { kind: 'claude', model: 'claude-sonnet-4-5', parallel: 2, prices: { 'claude-sonnet-4-5': { input: 3, output: 15 } } },
    limits: { max_changed_files: 5 },
    env: ['CI'],
  };

  it('is plain JSON with an id, a title and a description for editors', () => {
    const schema = specJsonSchema();
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: expect.any(String), title: 'ratchet.yaml', type: 'object' });
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['objective', 'bench']);
  });

  it('declares every key of a known-good spec', () => {
    expect(() => parseSpec(JSON.stringify(good), 'good')).not.toThrow();
    expect(undeclared(good, specJsonSchema() as JsonSchema, '')).toEqual([]);
  });

  it('describes what a user writes: durations as strings or seconds, goals by name', () => {
    const bench = (specJsonSchema() as JsonSchema).properties?.bench;
    expect(bench?.properties?.timeout).toMatchObject({ type: ['string', 'number'], default: 600 });
    expect(bench?.properties?.metric?.properties?.goal).toMatchObject({ enum: ['minimize', 'maximize'] });
  });
});
