import { describe, expect, it } from 'vitest';
import { applyFlags, checksFromCommands, resolveSpec, specToYaml } from '../../src/spec/flags.js';
import { parseSpec } from '../../src/spec/load.js';
import type { SpecInput } from '../../src/domain/spec.js';
import { parseSpecYaml } from '../../src/spec/yaml.js';
import { issuesOf, lines } from './problems.js';

const FILE = {
  objective: 'Make it fast.',
  checks: [{ name: 'unit', run: 'npm test' }],
  bench: { run: 'node bench.js', repeat: 3, metric: { name: 'ms', goal: 'minimize' } },
  agent: { kind: 'claude', model: 'claude-from-file', max_turns: 7 },
};

describe('resolveSpec with a file', () => {
  it('lets flags win over the file and keeps what they do not touch', () => {
    const spec = resolveSpec({
      fileSpecInput: FILE,
      flags: { goal: 'maximize', repeat: 6, timeout: '90s', maxExperiments: 12, duration: '2h', usd: 4, minEffect: '2%', model: 'claude-from-flag' },
      source: 'ratchet.yaml',
    });
    expect(spec.bench).toMatchObject({ run: 'node bench.js', repeat: 6, timeout: 90_000, metric: { name: 'ms', goal: 'maximize' } });
    expect(spec.bench.min_effect).toEqual({ kind: 'relative', value: 0.02 });
    expect(spec.budget).toMatchObject({ experiments: 12, duration: 7_200_000, usd: 4 });
    expect(spec.agent).toMatchObject({ kind: 'claude', model: 'claude-from-flag', max_turns: 7 });
    expect(spec.checks).toEqual([{ name: 'unit', run: 'npm test', timeout: 600_000 }]);
  });

  it('does not modify the file input it merges into', () => {
    const file = structuredClone(FILE);
    resolveSpec({ fileSpecInput: file, flags: { goal: 'maximize', agent: 'replay', check: ['make test'] }, source: 'ratchet.yaml' });
    expect(file).toEqual(FILE);
  });

  it('switches to replay with --agent replay --patches DIR, dropping the other agent keys', () => {
    const spec = resolveSpec({ fileSpecInput: FILE, flags: { agent: 'replay', patches: 'patches/' }, source: 'ratchet.yaml' });
    expect(spec.agent).toEqual({ kind: 'replay', patches: 'patches/', parallel: 1 });
  });

  it('keeps the file agent when --agent names the kind it already has', () => {
    const spec = resolveSpec({ fileSpecInput: FILE, flags: { agent: 'claude' }, source: 'ratchet.yaml' });
    expect(spec.agent).toMatchObject({ kind: 'claude', model: 'claude-from-file', max_turns: 7 });
  });

  it('reads --agent-run as the command agent with that command line, whatever agent the file has', () => {
    const spec = resolveSpec({ fileSpecInput: FILE, flags: { agentRun: 'codex exec {prompt}' }, source: 'ratchet.yaml' });
    expect(spec.agent).toEqual({ kind: 'command', run: 'codex exec {prompt}', timeout: 1_800_000, sandbox: true, mounts: [], parallel: 1 });
    const withCommand = { ...FILE, agent: { kind: 'command', run: 'old {prompt}', timeout: '5m' } };
    expect(resolveSpec({ fileSpecInput: withCommand, flags: { agentRun: 'new {prompt}' }, source: 'ratchet.yaml' }).agent).toMatchObject({ run: 'new {prompt}', timeout: 300_000 });
  });

  it('reads --model without an agent in the file as the claude agent', () => {
    const { agent: _agent, ...withoutAgent } = FILE;
    const spec = resolveSpec({ fileSpecInput: withoutAgent, flags: { model: 'claude-x' }, source: 'ratchet.yaml' });
    expect(spec.agent).toMatchObject({ kind: 'claude', model: 'claude-x' });
  });

  it('rejects flags that do not fit the agent, together with the other problems', () => {
    const issues = issuesOf(() =>
      resolveSpec({ fileSpecInput: FILE, flags: { agent: 'command', model: 'm', goal: 'fastest' }, source: 'ratchet.yaml' }),
    );
    expect(lines(issues)).toEqual([
      '--model: applies only to --agent claude, and the agent is "command"',
      '--goal: expected "minimize" | "maximize", got "fastest"',
      'agent.run: required: the agent\'s command line, in ratchet.yaml or as --agent-run "claude -p {prompt}"',
    ]);
  });

  it('names the flag for a bad flag value and the line for a bad file value', () => {
    const doc = parseSpecYaml('objective: x\nbench:\n  run: a\n  repeat: 0\n  metric: { name: ms, goal: minimize }\n', 'ratchet.yaml');
    const issues = issuesOf(() => resolveSpec({ fileSpecInput: doc.input, lineOf: doc.lineOf, flags: { timeout: 'soon', check: [''] }, source: 'ratchet.yaml' }));
    expect(lines(issues)).toEqual([
      '--check: checks[0].run: must not be empty',
      '--timeout: expected a duration like 30s, 2m or 1h, got "soon"',
      'bench.repeat: must be at least 1 (line 4)',
    ]);
  });

  it('replaces the file checks with --check commands, named by what they run', () => {
    const spec = resolveSpec({ fileSpecInput: FILE, flags: { check: ['npm test', 'npm run lint'] }, source: 'ratchet.yaml' });
    expect(spec.checks.map((c) => [c.name, c.run])).toEqual([
      ['test', 'npm test'],
      ['lint', 'npm run lint'],
    ]);
  });

  it('takes an empty list as a repeatable flag that was not given', () => {
    const spec = resolveSpec({ fileSpecInput: FILE, flags: { check: [], editable: [] }, source: 'ratchet.yaml' });
    expect(spec.checks.map((c) => c.name)).toEqual(['unit']);
  });

  it('leaves a file value that is not a mapping for the schema to report', () => {
    const issues = issuesOf(() => resolveSpec({ fileSpecInput: { ...FILE, bench: 'node bench.js' }, flags: { goal: 'maximize' }, source: 'ratchet.yaml' }));
    expect(lines(issues)).toEqual(['bench: expected a mapping, got "node bench.js"']);
  });
});

describe('resolveSpec without a file', () => {
  it('runs from flags alone', () => {
    const spec = resolveSpec({
      flags: { objective: 'Faster sort', bench: 'node bench.js', metric: 'ms', goal: 'minimize', check: ['npm test'], editable: ['src/**'] },
      source: 'command line',
    });
    expect(spec.objective).toBe('Faster sort');
    expect(spec.bench.metric).toEqual({ name: 'ms', goal: 'minimize' });
    expect(spec.checks).toEqual([{ name: 'test', run: 'npm test', timeout: 600_000 }]);
    expect(spec.editable).toEqual(['src/**']);
    expect(spec.agent.kind).toBe('replay');
  });

  it('reports every missing required flag together', () => {
    const issues = issuesOf(() => resolveSpec({ flags: { objective: 'Faster sort' }, source: 'command line' }));
    expect(lines(issues)).toEqual([
      '--bench: required when there is no ratchet.yaml',
      '--metric: required when there is no ratchet.yaml',
      '--goal: required when there is no ratchet.yaml',
    ]);
  });

  it('reports missing flags and bad flag values in one error', () => {
    const issues = issuesOf(() => resolveSpec({ flags: { bench: 'node bench.js', goal: 'fastest', repeat: 0 }, source: 'command line' }));
    expect(lines(issues)).toEqual([
      '--objective: required when there is no ratchet.yaml',
      '--metric: required when there is no ratchet.yaml',
      '--goal: expected "minimize" | "maximize", got "fastest"',
      '--repeat: must be at least 1',
    ]);
  });

  it('treats an empty ratchet.yaml as a file, not as flags alone', () => {
    const issues = issuesOf(() => resolveSpec({ fileSpecInput: {}, flags: {}, source: 'ratchet.yaml' }));
    expect(lines(issues)).toEqual(['objective: required', 'bench: required']);
  });
});

describe('applyFlags', () => {
  it('records which flags set values, and a patches flag without a kind means replay', () => {
    const merged = applyFlags({}, { patches: 'p/', setup: 'npm ci' });
    expect(merged.input).toEqual({ agent: { kind: 'replay', patches: 'p/' }, setup: 'npm ci' });
    expect(merged.applied.sort()).toEqual(['patches', 'setup']);
    expect(merged.issues).toEqual([]);
  });
});

describe('checksFromCommands', () => {
  it('names checks by what they run and keeps the names apart', () => {
    expect(checksFromCommands(['pytest -q', 'cargo test', 'go test ./...', 'CI=1 make check', './scripts/lint.sh', '&&']).map((c) => c.name)).toEqual([
      'pytest',
      'test',
      'test-2',
      'check',
      'lint.sh',
      'check6',
    ]);
  });
});

describe('specToYaml', () => {
  const input: SpecInput = {
    objective: 'Make the sort faster.\nKeep it stable.',
    protected: ['bench/**', 'ratchet.yaml'],
    checks: [{ name: 'test', run: 'npm test', timeout: '2m' }],
    bench: { run: 'node bench/run.js', metric: { name: 'ops', goal: 'maximize' }, repeat: 10, min_effect: '1%' },
    budget: { experiments: 100, duration: '8h' },
    agent: { kind: 'claude', model: 'claude-sonnet-4-5', parallel: 2 },
  };

  it('writes a spec that parses back to the same spec', () => {
    const yaml = specToYaml(input);
    expect(parseSpec(yaml, 'ratchet.yaml')).toEqual(parseSpec(JSON.stringify(input), 'input'));
  });

  it('writes keys in schema order, short lists and mappings on one line, with comments', () => {
    const yaml = specToYaml({ bench: input.bench, objective: 'x', protected: ['a/**'] });
    expect(yaml.indexOf('objective:')).toBeLessThan(yaml.indexOf('protected:'));
    expect(yaml.indexOf('protected:')).toBeLessThan(yaml.indexOf('bench:'));
    expect(yaml).toContain('protected: [ a/** ]');
    expect(yaml).toContain('metric: { name: ops, goal: maximize }');
    expect(yaml).toContain('# Globs the agent must never change');
    expect(yaml).toContain('`ratchet schema`');
  });
});
