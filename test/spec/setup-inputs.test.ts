import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/load.js';
import { specJsonSchema as jsonSchema } from '../../src/spec/json-schema.js';
import { issuesOf, lines } from './problems.js';

const GOOD = 'objective: Make the sort faster.\nbench:\n  run: node bench.js\n  metric: { name: ms, goal: minimize }\n';
const parse = (yaml: string) => parseSpec(`${GOOD}${yaml}`, 'ratchet.yaml');
/** Each problem as `path: message`, without its line. */
const problems = (yaml: string): string[] => lines(issuesOf(() => parse(yaml))).map((line) => line.replace(/ \(line \d+\)$/, ''));

describe('setup with inputs', () => {
  it('keeps a plain setup command as it was, with no inputs', () => {
    const spec = parse('setup: npm ci\nsetup_timeout: 2m\n');
    expect([spec.setup, spec.setup_inputs, spec.setup_timeout]).toEqual(['npm ci', [], 120_000]);
    expect(parse('').setup_inputs).toEqual([]);
  });

  it('reads { run, inputs } as the command and its input globs apart, with setup_timeout and setup_network still at the top', () => {
    const spec = parse('setup:\n  run: npm ci\n  inputs: [package-lock.json, "patches/**"]\nsetup_timeout: 5m\nsetup_network: true\n');
    expect(spec.setup).toBe('npm ci');
    expect(spec.setup_inputs).toEqual(['package-lock.json', 'patches/**']);
    expect([spec.setup_timeout, spec.setup_network]).toEqual([300_000, true]);
    expect(parse('setup: { run: make deps }\n').setup_inputs).toEqual([]);
  });

  it('names what is wrong with a setup object and how to write it', () => {
    expect(problems('setup: { inputs: [package-lock.json] }\n')).toEqual(['setup: needs run: the setup command']);
    expect(problems('setup: { run: npm ci, inputs: package-lock.json }\n')).toEqual(['setup: inputs must be a list of globs such as [package-lock.json], got "package-lock.json"']);
    expect(problems('setup: { run: npm ci, inputs: [] }\n')).toEqual([
      'setup.inputs: lists no file: name the files setup reads (such as package-lock.json), or write setup as a plain command',
    ]);
    expect(problems('setup: { run: npm ci, input: [package-lock.json] }\n')).toEqual(['setup.input: unknown key (did you mean "inputs"?)']);
    expect(problems('setup: [npm ci]\n')).toEqual(["setup: expected a shell command, or { run, inputs } to reuse setup's outputs, got a list"]);
  });

  it('shows both forms of setup in the JSON Schema', () => {
    const setup = (jsonSchema() as { properties: Record<string, { anyOf?: { type?: string; properties?: Record<string, unknown> }[] }> }).properties['setup'];
    expect(setup?.anyOf?.map((branch) => branch.type)).toEqual(['string', 'object']);
    expect(Object.keys(setup?.anyOf?.[1]?.properties ?? {})).toEqual(['run', 'inputs']);
  });
});
