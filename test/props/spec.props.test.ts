/**
 * The spec reader on input nobody meant to write: whatever the text or value, it answers with a
 * valid spec or a ValidationError listing each problem with its path, never another exception,
 * and in bounded time. A spec it accepts is one ratchet can run: finite numbers, and timeouts a
 * timer can hold.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { parseDuration } from '../../src/domain/duration.js';
import { resolveSpec, specToYaml, type SpecFlags } from '../../src/spec/flags.js';
import { loadSpec, parseSpec } from '../../src/spec/load.js';
import type { Spec, SpecInput } from '../../src/domain/spec.js';
import { parseSize } from '../../src/domain/size.js';
import { checkSpec } from '../../src/spec/validate.js';
import { tempDir } from '../helpers/gitdir.js';
import { awkwardNumber, awkwardPiece, awkwardText, hugeText, joinLines, lineEnding, numbersIn, numberText, within } from './arbitraries.js';

const GOOD = 'objective: Make the sort faster.\nbench:\n  run: node bench.js\n  metric: { name: ms, goal: minimize }\n';
/** Node fires a timer of more than 2^31 - 1 ms at once (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The only two answers a spec reader may give; anything else it throws fails the property. */
function expectSpecOrIssues(read: () => Spec): void {
  let spec: Spec;
  try {
    spec = read();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(typeof issue.path).toBe('string');
      expect(issue.message).toMatch(/\S/);
    }
    return;
  }
  expectRunnable(spec);
}

/** What the rest of ratchet assumes of a validated spec. */
function expectRunnable(spec: Spec): void {
  expect(numbersIn(spec).filter((n) => !Number.isFinite(n.value))).toEqual([]);
  const timeouts: [string, number][] = [
    ['setup_timeout', spec.setup_timeout],
    ['bench.timeout', spec.bench.timeout],
    ...spec.checks.map((check, i): [string, number] => [`checks[${i}].timeout`, check.timeout]),
  ];
  if (spec.agent.kind === 'command') timeouts.push(['agent.timeout', spec.agent.timeout]);
  if (spec.agent.kind === 'claude') timeouts.push(['agent.command_timeout', spec.agent.command_timeout]);
  for (const [path, ms] of timeouts) expect([path, ms > 0 && ms <= MAX_TIMER_MS]).toEqual([path, true]);
  const { max_patch_bytes: bytes, memory } = spec.limits;
  for (const size of [bytes, memory]) if (size !== undefined) expect(Number.isInteger(size) && size > 0).toBe(true);
}

/** YAML-looking lines: keys, list items, flow collections and the awkward pieces, at any indent. */
const yamlishLine = fc
  .tuple(
    fc.integer({ min: 0, max: 8 }),
    fc.oneof(
      fc.tuple(fc.oneof(awkwardPiece, fc.constantFrom('objective', 'bench', 'run', 'metric', 'name', 'goal', 'checks', 'timeout', 'agent', 'kind')), awkwardText(4)).map(([k, v]) => `${k}: ${v}`),
      awkwardText(4).map((v) => `- ${v}`),
      awkwardText(6),
    ),
  )
  .map(([indent, body]) => `${' '.repeat(indent)}${body}`);
const yamlishText = fc.tuple(fc.array(yamlishLine, { maxLength: 30 }), fc.array(lineEnding, { minLength: 1, maxLength: 3 })).map(([lines, endings]) => joinLines(lines, endings));

/** A good spec damaged in one place: a character replaced, text inserted, a line lost or doubled, other line endings. */
const damagedGood = fc.oneof(
  fc.tuple(fc.nat(GOOD.length - 1), awkwardPiece).map(([at, piece]) => `${GOOD.slice(0, at)}${piece}${GOOD.slice(at + 1)}`),
  fc.tuple(fc.nat(GOOD.length), awkwardText(3)).map(([at, text]) => `${GOOD.slice(0, at)}${text}${GOOD.slice(at)}`),
  fc.tuple(fc.nat(4), fc.boolean()).map(([line, twice]) => {
    const lines = GOOD.split('\n');
    lines.splice(line, twice ? 0 : 1, ...(twice ? [lines[line] ?? ''] : []));
    return lines.join('\n');
  }),
  fc.tuple(lineEnding, fc.constantFrom('', '\uFEFF', '\0')).map(([ending, prefix]) => `${prefix}${GOOD.replaceAll('\n', ending)}`),
);

/** A value that is sometimes right for its place and often not. */
function maybe<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.oneof(awkwardNumber, awkwardPiece, hugeText(20_000)) },
  );
}

const durationLike = fc.oneof(
  fc.integer({ min: 1, max: 86_400 }),
  fc.constantFrom('500ms', '30s', '2m', '1h30m', '1d', '24d', '25d', '30d', '1e308', 1e308, 1e9, '9'.repeat(400), `${'9'.repeat(400)}s`, '0.0001ms'),
  fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom('ms', 's', 'm', 'h', 'd')).map(([n, unit]) => `${n}${unit}`),
);
const sizeLike = fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom('5MB', '512MiB', '2g', '1.5GB', '1e308', 1e308, '9'.repeat(400), '0.1'));

/** Spec-shaped values, mostly well formed, so validation reaches every field and every rule. */
const specLike = fc.record(
  {
    objective: maybe(fc.string({ minLength: 1 })),
    editable: maybe(fc.array(fc.string({ minLength: 1 }), { maxLength: 3 })),
    protected: maybe(fc.array(fc.string({ minLength: 1 }), { maxLength: 3 })),
    setup: maybe(fc.string()),
    setup_timeout: maybe(durationLike),
    checks: maybe(fc.array(maybe(fc.record({ name: maybe(fc.constantFrom('test', 'lint', ' ')), run: maybe(fc.string()), timeout: maybe(durationLike) }, { requiredKeys: [] })), { maxLength: 3 })),
    bench: maybe(
      fc.record(
        {
          run: maybe(fc.string({ minLength: 1 })),
          timeout: maybe(durationLike),
          metric: maybe(fc.record({ name: maybe(fc.constantFrom('ms', 'val_bpb', '__proto__', '9x')), goal: maybe(fc.constantFrom('minimize', 'maximize')), pattern: maybe(fc.constantFrom('ms=(\\d+)', '(', '(a)(b)', 'x')) }, { requiredKeys: [] })),
          repeat: maybe(fc.integer({ min: 1, max: 10 })),
          max_repeat: maybe(fc.integer({ min: 1, max: 10 })),
          confidence: maybe(fc.double({ min: 0.51, max: 0.99, noNaN: true })),
          min_effect: maybe(fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.constantFrom('1%', '0.5', '1e999', `${'9'.repeat(400)}%`, '1e-3', '-1%'))),
          constraints: maybe(fc.array(fc.record({ metric: maybe(fc.constantFrom('mem', 'toString')), max: maybe(awkwardNumber), min: maybe(awkwardNumber) }, { requiredKeys: [] }), { maxLength: 2 })),
        },
        { requiredKeys: [] },
      ),
    ),
    budget: maybe(fc.record({ experiments: maybe(fc.nat()), duration: maybe(durationLike), usd: maybe(awkwardNumber) }, { requiredKeys: [] })),
    agent: maybe(
      fc.oneof(
        fc.record({ kind: fc.constant('replay'), patches: maybe(fc.string({ minLength: 1 })) }, { requiredKeys: ['kind'] }),
        fc.record({ kind: fc.constant('command'), run: maybe(fc.string({ minLength: 1 })), timeout: maybe(durationLike) }, { requiredKeys: ['kind'] }),
        fc.record({ kind: fc.constant('claude'), command_timeout: maybe(durationLike), temperature: maybe(awkwardNumber), base_url: maybe(fc.webUrl()) }, { requiredKeys: ['kind'] }),
        fc.record({ kind: maybe(fc.constantFrom('tune', 'clade')) }),
      ),
    ),
    limits: maybe(fc.record({ max_patch_bytes: maybe(sizeLike), memory: maybe(sizeLike), cpu: maybe(awkwardNumber), binary: maybe(fc.constantFrom('allow', 'refuse')) }, { requiredKeys: [] })),
    env: maybe(fc.array(fc.constantFrom('CUDA_*', 'HOME', 'bad name', ''), { maxLength: 2 })),
    sandbox: maybe(fc.constantFrom('auto', 'bwrap', 'none')),
  },
  { requiredKeys: [] },
);

/** A spec with every part present and valid, to break one part at a time. */
const FULL = {
  objective: 'Make the sort faster.',
  editable: ['src/**'],
  protected: ['bench/**'],
  setup: 'npm ci',
  setup_timeout: '15m',
  checks: [{ name: 'test', run: 'npm test', timeout: '2m' }],
  bench: {
    run: 'node bench.js',
    timeout: 600,
    metric: { name: 'ms', goal: 'minimize', pattern: 'ms=(\\d+)' },
    constraints: [{ metric: 'mem', max: 100 }],
    repeat: 3,
    max_repeat: 9,
    warmup: 1,
    confidence: 0.95,
    min_effect: '1%',
  },
  budget: { experiments: 10, duration: '8h', usd: 5 },
  agent: { kind: 'claude', command_timeout: '5m', temperature: 0.5 },
  limits: { max_changed_files: 5, max_patch_bytes: '1MB', memory: '2GiB', cpu: 1.5, binary: 'refuse' },
  sandbox: 'auto',
  env: ['CUDA_*'],
  setup_network: false,
};
const PARTS: readonly (readonly (string | number)[])[] = [
  ['version'], ['objective'], ['editable'], ['editable', 0], ['protected', 0], ['setup'], ['setup_timeout'],
  ['checks'], ['checks', 0], ['checks', 0, 'name'], ['checks', 0, 'timeout'],
  ['bench'], ['bench', 'run'], ['bench', 'timeout'], ['bench', 'metric', 'name'], ['bench', 'metric', 'goal'], ['bench', 'metric', 'pattern'],
  ['bench', 'repeat'], ['bench', 'max_repeat'], ['bench', 'warmup'], ['bench', 'confidence'], ['bench', 'min_effect'],
  ['bench', 'constraints', 0, 'max'], ['bench', 'constraints', 0, 'metric'],
  ['budget', 'experiments'], ['budget', 'duration'], ['budget', 'usd'],
  ['agent'], ['agent', 'kind'], ['agent', 'command_timeout'], ['agent', 'temperature'], ['agent', 'base_url'],
  ['limits', 'max_changed_files'], ['limits', 'max_patch_bytes'], ['limits', 'memory'], ['limits', 'cpu'], ['limits', 'binary'],
  ['sandbox'], ['env', 0], ['setup_network'],
];

function withPart(path: readonly (string | number)[], value: unknown): unknown {
  const input = structuredClone(FULL) as Record<string | number, unknown>;
  let node = input;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return input;
}

describe('reading ratchet.yaml text', () => {
  it('answers any text with a spec or a list of problems, each with a path', () => {
    fc.assert(
      fc.property(fc.oneof(awkwardText(60), yamlishText, damagedGood), (text) => {
        expectSpecOrIssues(() => within(2_000, () => parseSpec(text, 'ratchet.yaml')));
      }),
      { numRuns: 400 },
    );
  });

  it('answers huge text in bounded time', () => {
    fc.assert(
      fc.property(hugeText(600_000), fc.constantFrom('', GOOD, 'objective: '), (huge, before) => {
        expectSpecOrIssues(() => within(3_000, () => parseSpec(`${before}${huge}`, 'ratchet.yaml')));
      }),
      { numRuns: 6 },
    );
  });

  it('answers deep nesting with a problem, not a stack overflow', () => {
    const nestings = fc.constantFrom(
      (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`,
      (n: number) => `${'{a: '.repeat(n)}1${'}'.repeat(n)}`,
      (n: number) => `${'- '.repeat(n)}x`,
      (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
      (n: number) => `objective: x\nbench: ${'['.repeat(n)}${']'.repeat(n)}`,
    );
    fc.assert(
      fc.property(nestings, fc.integer({ min: 1, max: 20_000 }), (nest, depth) => {
        expectSpecOrIssues(() => within(3_000, () => parseSpec(nest(Math.min(depth, 3_000)), 'ratchet.yaml')));
      }),
      { numRuns: 25 },
    );
  });

  it('answers alias expansion (a billion laughs) with a problem', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 8 }), (width, levels) => {
        const lines = [`a0: &a0 [${Array<string>(width).fill('lol').join(', ')}]`];
        for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array<string>(width).fill(`*a${i - 1}`).join(', ')}]`);
        expectSpecOrIssues(() => within(3_000, () => parseSpec(`${GOOD}${lines.join('\n')}\n`, 'ratchet.yaml')));
      }),
      { numRuns: 40 },
    );
  });

  it('answers a file of any bytes, not valid UTF-8 either, with a spec or problems', async () => {
    const dir = await tempDir('props-spec-');
    try {
      await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), damagedGood.map((text) => Buffer.from(text, 'utf8'))), async (bytes) => {
        await writeFile(join(dir.path, 'ratchet.yaml'), bytes);
        try {
          const loaded = await loadSpec(dir.path);
          expect(loaded).toBeDefined();
          if (loaded !== undefined) expectRunnable(loaded.spec);
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
        }
      }),
      { numRuns: 60 },
      );
    } finally {
      await dir.cleanup();
    }
  });
});

describe('validating a parsed spec', () => {
  it('answers any JSON value, and any spec-shaped value, with a spec or problems', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), specLike), (input) => {
        const result = within(2_000, () => checkSpec(input));
        if (result.ok) {
          expectRunnable(result.spec);
        } else {
          expect(result.problems.length).toBeGreaterThan(0);
          for (const problem of result.problems) {
            expect(problem.path.every((segment) => typeof segment === 'string' || typeof segment === 'number')).toBe(true);
            expect(problem.message).toMatch(/\S/);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a spec with one bad part at that part, and accepts it only when ratchet can run it', () => {
    const awkwardValue = fc.oneof(awkwardNumber, numberText, awkwardPiece, durationLike, sizeLike, fc.jsonValue({ maxDepth: 2 }), hugeText(20_000), fc.string({ unit: 'binary' }));
    expect(checkSpec(FULL)).toMatchObject({ ok: true });
    fc.assert(
      fc.property(fc.constantFrom(...PARTS), awkwardValue, (path, value) => {
        const result = within(2_000, () => checkSpec(withPart(path, value)));
        if (result.ok) expectRunnable(result.spec);
        else expect(result.problems.filter((problem) => problem.path[0] !== path[0])).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });

  const flags: fc.Arbitrary<SpecFlags> = fc.record(
    {
      agent: fc.oneof(fc.constantFrom('replay', 'claude', 'command', 'tune'), fc.string()),
      patches: fc.string(),
      maxExperiments: awkwardNumber,
      objective: fc.oneof(fc.string(), awkwardPiece),
      bench: fc.string(),
      metric: fc.oneof(fc.constantFrom('ms', 'score'), fc.string()),
      goal: fc.oneof(fc.constantFrom('minimize', 'maximize'), fc.string()),
      check: fc.array(fc.oneof(fc.constantFrom('npm test', 'cargo test', 'npm test'), fc.string())),
      editable: fc.array(fc.string()),
      protected: fc.array(fc.string()),
      setup: fc.string(),
      repeat: awkwardNumber,
      minEffect: fc.oneof(fc.constantFrom('1%', '0'), fc.string()),
      timeout: fc.oneof(fc.constantFrom('30s', '30d'), fc.string()),
      duration: fc.oneof(fc.constantFrom('1h', `${'9'.repeat(400)}`), fc.string()),
      usd: awkwardNumber,
      model: fc.string(),
    },
    { requiredKeys: [] },
  );

  it('answers flags over any file input, or flags alone, with a spec or problems', () => {
    fc.assert(
      fc.property(fc.option(fc.oneof(specLike, fc.jsonValue()), { nil: undefined }), flags, (fileSpecInput, given) => {
        expectSpecOrIssues(() => within(2_000, () => resolveSpec({ fileSpecInput, flags: given, source: 'ratchet.yaml' })));
      }),
      { numRuns: 400 },
    );
  });
});

/** Text as a user could type it into a spec: any unicode, control characters, YAML indicators, but no lone surrogates (a file cannot hold them). */
const typed = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.array(awkwardPiece, { minLength: 1, maxLength: 4 }).map((p) => p.join('')))
  .filter((s) => s.trim() !== '' && Buffer.from(s, 'utf8').toString('utf8') === s);
const durationInput = fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom('500ms', '30s', '2m', '1h30m', '1d', '1.5h'));
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Specs as `ratchet init` could write them: valid by construction. */
const validSpecInput: fc.Arbitrary<SpecInput> = fc
  .record({
    objective: typed,
    editable: opt(fc.array(typed, { maxLength: 3 })),
    protected: opt(fc.array(typed, { maxLength: 3 })),
    setup: opt(fc.oneof(fc.constant(''), typed)),
    setup_timeout: opt(durationInput),
    checks: opt(fc.uniqueArray(fc.record({ name: typed, run: typed, timeout: opt(durationInput) }), { maxLength: 3, selector: (c) => c.name.trim() })),
    bench: fc.record({
      run: typed,
      metric: fc.record({ name: fc.stringMatching(/^[A-Za-z_][\w.-]{0,12}$/), goal: fc.constantFrom('minimize' as const, 'maximize' as const) }),
      timeout: opt(durationInput),
      repeat: opt(fc.integer({ min: 1, max: 20 })),
      confidence: opt(fc.double({ min: 0.51, max: 0.99, noNaN: true })),
      min_effect: opt(fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom('1%', '0.5%', '2', '1e-3'))),
    }),
    budget: opt(fc.record({ experiments: opt(fc.nat(1000)), duration: opt(durationInput), usd: opt(fc.double({ min: 0, max: 1e4, noNaN: true })) })),
    agent: opt(fc.oneof(fc.record({ kind: fc.constant('replay' as const), patches: opt(typed) }), fc.record({ kind: fc.constant('command' as const), run: typed, timeout: opt(durationInput) }))),
    limits: opt(fc.record({ max_patch_bytes: opt(fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom('5MB', '512KiB'))), binary: opt(fc.constantFrom('allow' as const, 'refuse' as const)) })),
    sandbox: opt(fc.constantFrom('auto' as const, 'bwrap' as const, 'none' as const)),
    env: opt(fc.array(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}\*?$/), { maxLength: 2 })),
  })
  .map((input) => JSON.parse(JSON.stringify(input)) as SpecInput);

describe('writing a spec', () => {
  it('reads back what it wrote: the same spec after a trip through a file', () => {
    fc.assert(
      fc.property(validSpecInput, (input) => {
        const expected = checkSpec(input);
        expect(expected).toMatchObject({ ok: true });
        const text = Buffer.from(specToYaml(input), 'utf8').toString('utf8');
        expect(parseSpec(text, 'ratchet.yaml')).toEqual(expected.ok ? expected.spec : undefined);
      }),
      { numRuns: 300 },
    );
  });
});

describe('durations and sizes', () => {
  const anyInput = fc.oneof(awkwardNumber, numberText, awkwardText(8), durationLike, sizeLike, hugeText(200_000));

  it('reads a duration as finite milliseconds or not at all', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const ms = within(500, () => parseDuration(input));
        if (ms !== undefined) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('reads every unit of a duration, summed', () => {
    const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
    const part = fc.tuple(fc.nat(10_000), fc.constantFrom(...(Object.keys(unitMs) as (keyof typeof unitMs)[])));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), fc.constantFrom('', ' ', '\t'), (parts, pad) => {
        const text = `${pad}${parts.map(([n, unit]) => `${n}${unit}`).join('')}${pad}`;
        expect(parseDuration(text)).toBe(parts.reduce((sum, [n, unit]) => sum + n * unitMs[unit], 0));
      }),
    );
  });

  it('reads a size as whole bytes or not at all, and every unit as documented', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const bytes = within(500, () => parseSize(input));
        if (bytes !== undefined) expect(Number.isInteger(bytes) && bytes >= 0).toBe(true);
      }),
      { numRuns: 400 },
    );
    const units = { '': 1, kb: 1000, kib: 1024, mb: 1000 ** 2, MiB: 1024 ** 2, GB: 1000 ** 3, g: 1024 ** 3 };
    fc.assert(
      fc.property(fc.nat(100_000), fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.constantFrom('', ' '), (n, unit, space) => {
        expect(parseSize(`${n}${space}${unit}`)).toBe(n * units[unit]);
      }),
    );
  });
});
