import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findSpans, TuneProposer, validateTuneParams } from '../../src/agents/tune/index.js';
import { ValidationError } from '../../src/domain/errors.js';
import type { HistoryRow, ProposalContext, ProposalOutcome } from '../../src/domain/proposal.js';
import { specSchema, tuneParamSchema, type SpecInput, type TuneParam } from '../../src/domain/spec.js';
import type { z } from 'zod';
import { gitdir, type FileTree } from '../helpers/gitdir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function repo(files: FileTree): Promise<string> {
  const dir = await gitdir(files);
  cleanups.push(dir.cleanup);
  return dir.path;
}

type ParamInput = z.input<typeof tuneParamSchema>;
const param = (input: Partial<ParamInput> & { file: string }): TuneParam => tuneParamSchema.parse({ min: 1, max: 1000, ...input });

function spec(params: ParamInput[], seed?: number) {
  const input: SpecInput = { objective: 'x', bench: { run: 'node bench.js', metric: { name: 'loss', goal: 'minimize' } }, agent: { kind: 'tune', params, seed } };
  return specSchema.parse(input);
}

function context(worktree: string, s: ReturnType<typeof spec>, history: HistoryRow[]): ProposalContext {
  return {
    runId: 'r', experiment: `e${String(history.length).padStart(4, '0')}`, worktree, parentCommit: 'HEAD', spec: s, objective: 'x', history,
    best: { experiment: 'e0000', metric: 1, commit: 'HEAD' }, lastFailure: undefined, experimentDir: worktree, gitDir: join(worktree, '.git'),
  };
}

const signal = new AbortController().signal;

describe('tune parameters in files', () => {
  it('finds a name in each assignment style, once, and not in look-alikes', () => {
    const cases: [string, string][] = [
      ['LR = 12\n', '12'],
      ['const LR = 3e-4;\n', '3e-4'],
      ['LR: 0.5\n', '0.5'],
      ['{ "LR": 64, "LR_MIN": 1 }', '64'],
      ["cfg = {'LR': 7}", '7'],
      ['python train.py --LR 0.01 --x 1', '0.01'],
      ['python train.py --LR=2.5', '2.5'],
      ['LR: float = 1.0  # comment', '1.0'],
      ['const LR: number = -4;', '-4'],
      ['if LR == 3: pass\nMY_LR = 9\nLR_X = 1\nLR = .25', '.25'],
    ];
    for (const [text, literal] of cases) {
      const spans = findSpans(text, param({ file: 'f', name: 'LR' }));
      expect(spans.map((s) => s.literal), text).toEqual([literal]);
      expect(text.slice(spans[0]!.start, spans[0]!.end)).toBe(literal);
    }
    expect(findSpans('lr = 1_000\nlr = 0x10\nlr = 12px', param({ file: 'f', name: 'lr' }))).toEqual([]);
    expect(findSpans('batch: 32\n  size: 64', param({ file: 'f', pattern: String.raw`size:\s*(\d+)` })).map((s) => s.literal)).toEqual(['64']);
  });

  it('writes the proposal into the files, changing only the value and keeping its notation', async () => {
    const train = '// hyperparameters\nconst LEARNING_RATE = 3e-4; // too low\nconst WIDTH = 64;\nexport const DROPOUT = 0.5;\n';
    const dir = await repo({ 'train.js': train, 'config.json': '{\n  "warmup": 100.0\n}\n' });
    const s = spec([
      { file: 'train.js', name: 'LEARNING_RATE', min: 1e-4, max: 1e-1, scale: 'log' },
      { file: 'train.js', name: 'WIDTH', min: 8, max: 512, type: 'int', scale: 'log' },
      { file: 'train.js', name: 'DROPOUT', min: 0, max: 0.9 },
      { file: 'config.json', pattern: String.raw`"warmup":\s*([\d.]+)`, min: 0, max: 1000 },
    ]);
    const proposer = new TuneProposer(s.agent as Extract<typeof s.agent, { kind: 'tune' }>);
    const history: HistoryRow[] = [];
    const literals = (text: string) => /LEARNING_RATE = (\S+);[^]*WIDTH = (\S+);[^]*DROPOUT = (\S+);/.exec(text)!.slice(1);
    for (let i = 0; i < 8; i++) {
      const outcome = await proposer.propose(context(dir, s, history), signal);
      if (outcome.kind !== 'change') throw new Error(`expected a change, got ${outcome.kind}`);
      const text = await readFile(join(dir, 'train.js'), 'utf8');
      const json = await readFile(join(dir, 'config.json'), 'utf8');
      const [lr, width, dropout] = literals(text);
      expect(lr).toMatch(/^\d(\.\d+)?e-\d$/);
      expect(width).toMatch(/^\d+$/);
      expect(dropout).toMatch(/^\d*\.\d+$/);
      expect(json).toMatch(/^\{\n {2}"warmup": \d+\.\d+\n\}\n$/);
      // Everything but the values is as it was.
      expect(text.replace(/= [^;]+;/g, '= ?;')).toBe(train.replace(/= [^;]+;/g, '= ?;'));
      expect(outcome.description).toMatch(/^\S+ \S+ → \S+$/);
      history.push({ experiment: `e000${i + 1}`, verdict: 'keep', metric: 1, description: outcome.description, reason: '', ...(outcome.agentState ? { agentState: outcome.agentState } : {}) });
    }
    expect(history[0]!.description).toMatch(/^LEARNING_RATE 3e-4 → [\d.]+e-[34]$/);
    expect(history[0]!.agentState).toMatchObject({ agent: 'tune', params: ['LEARNING_RATE', 'WIDTH', 'DROPOUT', 'warmup'], from: ['3e-4', '64', '0.5', '100.0'] });
  });

  it('edits each assignment style in place, in its own notation', async () => {
    const cases: [file: string, text: string, input: Partial<ParamInput>, after: RegExp][] = [
      ['config.yaml', 'model:\n  lr: 0.5\n  depth: 4\n', { name: 'lr', min: 0.01, max: 0.9 }, /^model:\n {2}lr: 0\.\d+\n {2}depth: 4\n$/],
      ['run.sh', 'python train.py --lr 0.01 --epochs 3\n', { name: 'lr', min: 1e-4, max: 1, scale: 'log' }, /^python train\.py --lr 0\.\d+ --epochs 3\n$/],
      ['flags.txt', '--width=64\n', { name: 'width', min: 8, max: 512, type: 'int', scale: 'log' }, /^--width=\d+\n$/],
      ['cfg.json', '{"width": 64, "depth": 2}', { name: 'width', min: 8, max: 512, type: 'int' }, /^\{"width": \d+, "depth": 2\}$/],
      ['train.py', 'LR: float = 1.0  # peak\n', { name: 'LR', min: 0.5, max: 8, scale: 'log' }, /^LR: float = \d\.\d+ {2}# peak\n$/],
      ['train.py', 'SCALE = 2.0\n', { name: 'SCALE', min: 1, max: 3 }, /^SCALE = \d\.\d+\n$/],
    ];
    for (const [file, text, input, after] of cases) {
      const dir = await repo({ [file]: text });
      const s = spec([{ file, min: 1, max: 1000, ...input }]);
      const outcome = await new TuneProposer(s.agent as Extract<typeof s.agent, { kind: 'tune' }>).propose(context(dir, s, []), signal);
      if (outcome.kind !== 'change') throw new Error('expected a change');
      const written = await readFile(join(dir, file), 'utf8');
      expect(written, file).toMatch(after);
      expect(written).not.toBe(text);
      const [, from, to] = / (\S+) → (\S+)/.exec(outcome.description)!;
      expect(written).toBe(text.replace(from!, to!));
    }
  });

  it('continues a resumed run with a new proposer where the old one stopped', async () => {
    const files = { 'train.py': 'lr = 0.0003\nwidth = 16\n' };
    const s = spec([
      { file: 'train.py', name: 'lr', min: 1e-4, max: 1e-1, scale: 'log' },
      { file: 'train.py', name: 'width', min: 8, max: 512, type: 'int', scale: 'log' },
    ], 5);
    const agent = s.agent as Extract<typeof s.agent, { kind: 'tune' }>;
    const loss = (text: string) => {
      const [lr, width] = [/lr = (\S+)/, /width = (\S+)/].map((r) => Number(r.exec(text)![1]));
      return (Math.log10(lr!) + 2.5) ** 2 + (Math.log2(width!) - 6) ** 2;
    };
    /** The loop's part: evaluate the worktree, keep or restore the best's files. */
    async function run(dir: string, proposer: TuneProposer, history: HistoryRow[], count: number): Promise<ProposalOutcome[]> {
      const outcomes: ProposalOutcome[] = [];
      for (let i = 0; i < count; i++) {
        const best = await readFile(join(dir, 'train.py'), 'utf8');
        const outcome = await proposer.propose(context(dir, s, history), signal);
        outcomes.push(outcome);
        if (outcome.kind !== 'change') break;
        const candidate = await readFile(join(dir, 'train.py'), 'utf8');
        const keep = loss(candidate) < loss(best);
        if (!keep) await writeFile(join(dir, 'train.py'), best);
        history.push({ experiment: `e${i}`, verdict: keep ? 'keep' : 'discard', metric: loss(candidate), description: outcome.description, reason: '', ...(outcome.agentState ? { agentState: outcome.agentState } : {}) });
      }
      return outcomes;
    }
    const whole = await run(await repo(files), new TuneProposer(agent), [], 16);
    const dir = await repo(files);
    const history: HistoryRow[] = [];
    const first = await run(dir, new TuneProposer(agent), history, 8);
    const second = await run(dir, new TuneProposer(agent), history, 8);
    expect([...first, ...second]).toEqual(whole);
    const points = history.map((h) => JSON.stringify((h.agentState as { to: string[] }).to));
    expect(new Set(points).size).toBe(points.length);
  });

  it('says when every neighbour of the best has been tried', async () => {
    const dir = await repo({ 'a.yaml': 'workers: 2\n' });
    const s = spec([{ file: 'a.yaml', name: 'workers', min: 1, max: 3, type: 'int' }]);
    const proposer = new TuneProposer(s.agent as Extract<typeof s.agent, { kind: 'tune' }>);
    const history: HistoryRow[] = [];
    for (let i = 0; i < 2; i++) {
      const outcome = await proposer.propose(context(dir, s, history), signal);
      if (outcome.kind !== 'change') throw new Error('expected a change');
      await writeFile(join(dir, 'a.yaml'), 'workers: 2\n');
      history.push({ experiment: `e${i}`, verdict: 'discard', metric: 1, description: outcome.description, reason: '', ...(outcome.agentState ? { agentState: outcome.agentState } : {}) });
    }
    expect(await proposer.propose(context(dir, s, history), signal)).toMatchObject({ kind: 'exhausted', reason: expect.stringContaining('workers 2') });
  });
});

describe('tune spec errors', () => {
  async function problems(files: FileTree, params: TuneParam[]): Promise<string> {
    const dir = await repo(files);
    const error = await validateTuneParams(dir, params).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).message;
  }

  it('names the file and the parameter of a missing file, name or match', async () => {
    const message = await problems({ 'train.js': 'const LR = 0.1;\n' }, [
      param({ file: 'nope.js', name: 'LR' }),
      param({ file: 'train.js', name: 'WIDTH' }),
      param({ file: 'train.js', pattern: String.raw`rate=(\d+)` }),
    ]);
    expect(message).toContain('3 problems');
    expect(message).toMatch(/agent\.params\.0: parameter LR: file nope\.js not found/);
    expect(message).toMatch(/agent\.params\.1: parameter WIDTH not found in train\.js/);
    expect(message).toMatch(/agent\.params\.2: parameter rate \(pattern .*\) not found in train\.js/);
  });

  it('refuses a value out of range, a non-integer int and an ambiguous name', async () => {
    const message = await problems({ 'train.py': 'LR = 0.5\nWIDTH = 64.5\n# DEPTH = 2 was worse\nDEPTH = 3\n' }, [
      param({ file: 'train.py', name: 'LR', min: 1e-4, max: 0.1 }),
      param({ file: 'train.py', name: 'WIDTH', type: 'int' }),
      param({ file: 'train.py', name: 'DEPTH', type: 'int' }),
    ]);
    expect(message).toMatch(/parameter LR in train\.py line 1: value 0\.5 is outside its range \[0\.0001, 0\.1\]/);
    expect(message).toMatch(/parameter WIDTH in train\.py line 2: 64\.5 is not an int/);
    expect(message).toMatch(/parameter DEPTH is ambiguous in train\.py: found 2 times \(lines 3, 4\)/);
  });

  it('accepts parameters that are there once and in range, and reports where', async () => {
    const dir = await repo({ 'train.js': 'const LR = 0.1;\nconst WIDTH = 64;\n' });
    const located = await validateTuneParams(dir, [param({ file: 'train.js', name: 'WIDTH', type: 'int' }), param({ file: 'train.js', name: 'LR', min: 0.01, max: 1 })]);
    expect(located.map((l) => [l.dimension.label, l.value, l.line])).toEqual([['WIDTH', 64, 2], ['LR', 0.1, 1]]);
    await expect(validateTuneParams(dir, [param({ file: '../outside.js', name: 'LR' })])).rejects.toThrow(/outside the target/);
  });
});
