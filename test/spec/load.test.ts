import { afterEach, describe, expect, it } from 'vitest';
import { UserError, ValidationError } from '../../src/domain/errors.js';
import { loadSpec, parseSpec, readSpecFile } from '../../src/spec/load.js';
import { tempDir, writeTree } from '../helpers/gitdir.js';
import { issuesOf, lines } from './problems.js';

const BENCH = 'bench:\n  run: node bench.js\n  metric: { name: ms, goal: minimize }\n';
const GOOD = `objective: Make the sort faster.\n${BENCH}`;

describe('parseSpec', () => {
  it('normalises a good spec: durations in ms, min_effect tagged, defaults filled', () => {
    const spec = parseSpec(
      `${GOOD}checks:\n  - { name: test, run: npm test, timeout: 2m }\nbudget: { duration: 1h30m, experiments: 5 }\n`.replace(
        'metric:',
        'min_effect: 1%\n  repeat: 3\n  metric:',
      ),
      'ratchet.yaml',
    );
    expect(spec.checks).toEqual([{ name: 'test', run: 'npm test', timeout: 120_000 }]);
    expect(spec.bench.min_effect).toEqual({ kind: 'relative', value: 0.01 });
    expect(spec.bench.repeat).toBe(3);
    expect(spec.bench.timeout).toBe(600_000);
    expect(spec.budget).toEqual({ duration: 5_400_000, experiments: 5, consecutive_failures: 10 });
    expect(spec.agent).toEqual({ kind: 'replay', parallel: 1 });
  });

  it('takes a remote that carries no credential: scp-like, ssh:// with a user, https, a path', () => {
    for (const remote of ['git@github.com:me/repo.git', 'ssh://git@host/srv/repo.git', 'https://github.com/me/repo.git', '/srv/git/repo.git']) {
      expect(parseSpec(`${GOOD}remote: ${remote}\n`, 'ratchet.yaml').remote).toBe(remote);
    }
  });

  // Each bad spec with every problem it must report: [path, fragment of the message].
  const cases: { name: string; yaml: string; expected: [string, string][] }[] = [
    { name: 'missing objective', yaml: BENCH, expected: [['objective', 'required']] },
    { name: 'missing bench', yaml: 'objective: x\n', expected: [['bench', 'required']] },
    { name: 'a token in the remote URL', yaml: `${GOOD}remote: https://ghp_secret@github.com/me/repo.git\n`, expected: [['remote', 'carries a credential']] },
    { name: 'a password in the remote URL', yaml: `${GOOD}remote: ssh://me:hunter2@host/srv/repo.git\n`, expected: [['remote', 'use an SSH key or a git credential helper']] },
    { name: 'empty objective', yaml: `objective: ""\n${BENCH}`, expected: [['objective', 'must not be empty']] },
    { name: 'null objective', yaml: `objective:\n${BENCH}`, expected: [['objective', 'expected a string, got an empty value']] },
    {
      name: 'bad goal',
      yaml: GOOD.replace('minimize', 'fastest'),
      expected: [['bench.metric.goal', 'expected "minimize" | "maximize", got "fastest"']],
    },
    {
      name: 'near-miss goal',
      yaml: GOOD.replace('minimize', 'minimise'),
      expected: [['bench.metric.goal', '(did you mean "minimize"?)']],
    },
    { name: 'missing goal', yaml: GOOD.replace(', goal: minimize', ''), expected: [['bench.metric.goal', 'required']] },
    {
      name: 'bad duration string',
      yaml: `${GOOD}checks:\n  - { name: test, run: npm test, timeout: soon }\n`,
      expected: [['checks[0].timeout', 'expected a duration like 30s, 2m or 1h, got "soon"']],
    },
    {
      name: 'duration of the wrong type',
      yaml: GOOD.replace('run: node bench.js', 'run: node bench.js\n  timeout: true'),
      expected: [['bench.timeout', 'expected a duration like 30s, 2m or 1h, got true']],
    },
    {
      name: 'zero duration',
      yaml: `${GOOD}budget: { duration: 0 }\n`,
      expected: [['budget.duration', 'expected a duration like 30s, 2m or 1h, got 0']],
    },
    {
      name: 'bad min_effect',
      yaml: GOOD.replace('metric:', 'min_effect: lots\n  metric:'),
      expected: [['bench.min_effect', 'expected a non-negative number or a percentage like "1%", got "lots"']],
    },
    {
      name: 'negative min_effect',
      yaml: GOOD.replace('metric:', 'min_effect: -1\n  metric:'),
      expected: [['bench.min_effect', 'expected a non-negative number']],
    },
    {
      name: 'regex without a capture group',
      yaml: GOOD.replace('goal: minimize', 'goal: minimize, pattern: "ms=\\\\d+"'),
      expected: [['bench.metric.pattern', 'needs exactly one capture group for the value, found 0']],
    },
    {
      name: 'regex with two capture groups',
      yaml: GOOD.replace('goal: minimize', 'goal: minimize, pattern: "(ms)=(\\\\d+)"'),
      expected: [['bench.metric.pattern', 'found 2']],
    },
    {
      name: 'regex that does not compile',
      yaml: GOOD.replace('goal: minimize', 'goal: minimize, pattern: "(ms"'),
      expected: [['bench.metric.pattern', 'not a valid regular expression']],
    },
    {
      name: 'duplicate check names',
      yaml: `${GOOD}checks:\n  - { name: test, run: npm test }\n  - { name: test, run: npm run lint }\n`,
      expected: [['checks[1].name', 'duplicate check name "test"']],
    },
    {
      name: 'max_repeat below repeat',
      yaml: GOOD.replace('metric:', 'repeat: 5\n  max_repeat: 2\n  metric:'),
      expected: [['bench.max_repeat', 'must be at least bench.repeat (5), got 2']],
    },
    { name: 'unknown key with a suggestion', yaml: `${GOOD}budjet: { usd: 3 }\n`, expected: [['budjet', 'unknown key (did you mean "budget"?)']] },
    {
      name: 'unknown key in other casing',
      yaml: GOOD.replace('metric:', 'maxRepeat: 3\n  metric:'),
      expected: [['bench.maxRepeat', 'unknown key (did you mean "max_repeat"?)']],
    },
    { name: 'unknown key far from any known key', yaml: `${GOOD}colour: red\n`, expected: [['colour', 'unknown key']] },
    {
      name: 'wrong agent kind',
      yaml: `${GOOD}agent: { kind: gpt }\n`,
      expected: [['agent.kind', 'expected "replay" | "command" | "claude" | "tune", got "gpt"']],
    },
    { name: 'near-miss agent kind', yaml: `${GOOD}agent: { kind: claud }\n`, expected: [['agent.kind', '(did you mean "claude"?)']] },
    { name: 'agent without a kind', yaml: `${GOOD}agent: { model: x }\n`, expected: [['agent.kind', 'required, one of "replay"']] },
    { name: 'agent as a word', yaml: `${GOOD}agent: claude\n`, expected: [['agent', 'expected a mapping, got "claude"']] },
    {
      name: 'unknown key of the chosen agent',
      yaml: `${GOOD}agent: { kind: claude, max_token: 9000 }\n`,
      expected: [['agent.max_token', 'unknown key (did you mean "max_tokens"?)']],
    },
    { name: 'command agent without run', yaml: `${GOOD}agent: { kind: command }\n`, expected: [['agent.run', 'required']] },
    { name: 'tune without params', yaml: `${GOOD}agent: { kind: tune, params: [] }\n`, expected: [['agent.params', 'tune needs at least one parameter']] },
    {
      name: 'tune params out of order and ambiguous',
      yaml: `${GOOD}agent:\n  kind: tune\n  params:\n    - { file: a.js, name: N, pattern: "N = (\\\\d+)", min: 5, max: 1 }\n`,
      expected: [
        ['agent.params[0]', 'give exactly one of name or pattern'],
        ['agent.params[0]', 'min must be below max'],
      ],
    },
    {
      name: 'tune log scale from zero',
      yaml: `${GOOD}agent:\n  kind: tune\n  params:\n    - { file: a.js, name: N, min: 0, max: 8, scale: log }\n`,
      expected: [['agent.params[0]', 'a log scale needs min > 0']],
    },
    {
      name: 'tune param of an unknown type',
      yaml: `${GOOD}agent:\n  kind: tune\n  params:\n    - { file: a.js, name: N, min: 0, max: 8, type: double }\n`,
      expected: [['agent.params[0].type', 'expected "int" | "float", got "double"']],
    },
    { name: 'fractional repeat', yaml: GOOD.replace('metric:', 'repeat: 1.5\n  metric:'), expected: [['bench.repeat', 'expected an integer, got 1.5']] },
    { name: 'confidence of 1', yaml: GOOD.replace('metric:', 'confidence: 1\n  metric:'), expected: [['bench.confidence', 'must be less than 1']] },
    { name: 'negative budget', yaml: `${GOOD}budget: { usd: -1 }\n`, expected: [['budget.usd', 'must be at least 0']] },
    { name: 'checks as a mapping', yaml: `${GOOD}checks: { test: npm test }\n`, expected: [['checks', 'expected a list, got a mapping']] },
    { name: 'bad base_url', yaml: `${GOOD}agent: { kind: claude, base_url: nope }\n`, expected: [['agent.base_url', 'expected a URL, got "nope"']] },
    {
      name: 'price keyed by a model id with dots',
      yaml: `${GOOD}agent: { kind: claude, prices: { "m-4.1": { input: 1 } } }\n`,
      expected: [['agent.prices["m-4.1"].output', 'required']],
    },
    { name: 'bad env name', yaml: `${GOOD}env: [MY-VAR]\n`, expected: [['env[0]', 'must be an environment variable name']] },
    { name: 'future version', yaml: `version: 2\n${GOOD}`, expected: [['version', 'expected 1, got 2']] },
    { name: 'a list instead of a mapping', yaml: '- objective\n- bench\n', expected: [['', 'expected a mapping, got a list']] },
    { name: 'empty file', yaml: '# nothing yet\n', expected: [['objective', 'required'], ['bench', 'required']] },
    {
      name: 'YAML syntax error',
      yaml: 'objective: x\nbench: [a, b\nchecks: []\n',
      expected: [['', 'YAML syntax error at line 3:1']],
    },
    { name: 'duplicate YAML key', yaml: `${GOOD}objective: y\n`, expected: [['', 'YAML syntax error at line 5:1: Map keys must be unique']] },
  ];

  it.each(cases)('rejects a spec with $name', ({ yaml, expected }) => {
    const issues = issuesOf(() => parseSpec(yaml, 'ratchet.yaml'));
    expect(issues).toHaveLength(expected.length);
    expected.forEach(([path, fragment], i) => {
      expect(issues[i]?.path).toBe(path);
      expect(issues[i]?.message).toContain(fragment);
    });
  });

  it('reports every problem of a spec together, in file order, each with its line', () => {
    const yaml = [
      'objective: x',
      'bench:',
      '  run: node bench.js',
      '  repeat: 4',
      '  max_repeat: 2',
      '  metric: { name: ms, goal: fastest }',
      'checks:',
      '  - { name: test, run: npm test, timeout: soon }',
      '  - { name: test, run: npm run lint }',
      'agent: { kind: gpt }',
      'budjet: {}',
    ].join('\n');
    let error: unknown;
    try {
      parseSpec(yaml, 'ratchet.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(lines(validation.issues)).toEqual([
      'bench.max_repeat: must be at least bench.repeat (4), got 2 (line 5)',
      'bench.metric.goal: expected "minimize" | "maximize", got "fastest" (line 6)',
      'checks[0].timeout: expected a duration like 30s, 2m or 1h, got "soon" (line 8)',
      'checks[1].name: duplicate check name "test" (line 9)',
      'agent.kind: expected "replay" | "command" | "claude" | "tune", got "gpt" (line 10)',
      'budjet: unknown key (did you mean "budget"?) (line 11)',
    ]);
    expect(validation.message).toMatch(/^ratchet\.yaml has 6 problems:\n {2}bench\.max_repeat: /);
    expect(validation.hint).toContain('ratchet schema');
  });

  it('points a missing key at the line of the mapping that lacks it', () => {
    const issues = issuesOf(() => parseSpec('objective: x\nbench:\n  run: a\n  metric:\n    name: ms\n', 'ratchet.yaml'));
    expect(lines(issues)).toEqual(['bench.metric.goal: required, one of "minimize" | "maximize" (line 4)']);
  });

  it('reports every YAML syntax error at once, before the schema runs', () => {
    const issues = issuesOf(() => parseSpec('objective: [x\nbench: 1\nbench: 2\n', 'ratchet.yaml'));
    expect(issues.length).toBeGreaterThanOrEqual(2);
    expect(issues.every((issue) => issue.message.startsWith('YAML syntax error at line '))).toBe(true);
  });
});

describe('loadSpec', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  async function repo(files: Record<string, string>): Promise<string> {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    await writeTree(dir.path, files);
    return dir.path;
  }

  it('returns undefined for a repository without a spec', async () => {
    expect(await loadSpec(await repo({ 'README.md': 'hi' }))).toBeUndefined();
  });

  it('reads ratchet.yml as well as ratchet.yaml', async () => {
    const dir = await repo({ 'ratchet.yml': GOOD });
    const loaded = await loadSpec(dir);
    expect(loaded?.spec.bench.metric).toEqual({ name: 'ms', goal: 'minimize' });
    expect(loaded?.source).toBe(`${dir}/ratchet.yml`);
  });

  it('refuses to guess between ratchet.yaml and ratchet.yml', async () => {
    const dir = await repo({ 'ratchet.yaml': GOOD, 'ratchet.yml': GOOD });
    await expect(loadSpec(dir)).rejects.toThrow(/both ratchet\.yaml and ratchet\.yml/);
  });

  it('reads an explicit spec file, and fails when it is missing', async () => {
    const dir = await repo({ 'specs/fast.yaml': GOOD });
    expect((await loadSpec(dir, { file: 'specs/fast.yaml' }))?.spec.objective).toBe('Make the sort faster.');
    await expect(loadSpec(dir, { file: 'specs/slow.yaml' })).rejects.toBeInstanceOf(UserError);
  });

  it('names the file in the error of a bad spec', async () => {
    const dir = await repo({ 'ratchet.yaml': 'objective: x\n' });
    await expect(loadSpec(dir)).rejects.toThrow(`${dir}/ratchet.yaml has 1 problem:\n  bench: required`);
  });

  it('reads a spec without validating it, for flags to be merged in', async () => {
    const dir = await repo({ 'ratchet.yaml': 'objective: x\nbench:\n  run: a\n' });
    const doc = await readSpecFile(dir);
    expect(doc?.input).toEqual({ objective: 'x', bench: { run: 'a' } });
    expect(doc?.lineOf(['bench', 'run'])).toBe(3);
  });
});
