/**
 * setup.inputs on a worker, against real git and real bubblewrap: a pooled worktree handed to
 * the next experiment keeps what setup made while the inputs are unchanged, and setup runs
 * again when they changed, when setup's outputs changed, or when stages run unsandboxed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckoutGuard } from '../../src/domain/checkout-guard.js';
import type { EvaluationRequest, StageOutcome } from '../../src/domain/evaluation.js';
import { specSchema, type SpecInput } from '../../src/domain/spec.js';
import { createStageExecutor } from '../../src/eval/stages.js';
import { GitCheckoutGuard } from '../../src/git/checkout-guard.js';
import { WorkerCheckouts } from '../../src/git/eval-checkouts.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { git, gitdir, tempDir, writeTree, type FileTree } from '../helpers/gitdir.js';

// Setup "installs" the lock file's version and leaves an id no second run could repeat.
const SETUP = 'mkdir -p node_modules/dep && cp package-lock.json node_modules/dep/version && od -An -N8 -tx8 /dev/urandom | tr -d " " > node_modules/.id';
const BENCH = 'echo "METRIC score=$(cat score.txt)"; echo "id=$(cat node_modules/.id) dep=$(cat node_modules/dep/version)"';

let repo: { path: string; cleanup: () => Promise<void> };
let logs: { path: string; cleanup: () => Promise<void> };
let base: string;
let checkouts: WorkerCheckouts;
beforeEach(async () => {
  repo = await gitdir({ 'package-lock.json': 'v1\n', 'score.txt': '10\n', 'bench.sh': `${BENCH}\n`, '.gitignore': 'node_modules/\n' });
  logs = await tempDir('ratchet-setup-reuse-');
  base = git(repo.path, 'rev-parse', 'HEAD');
  // One idle worktree is enough to be handed on: each experiment gets the last one's.
  checkouts = new WorkerCheckouts({ keep: 1, spare: 0 });
});
afterEach(async () => {
  await checkouts.close();
  await repo.cleanup();
  await logs.cleanup();
});

const never = new AbortController().signal;
const execute = createStageExecutor(new ExecaCommandRunner({ killGraceMs: 200 }), new GitCheckoutGuard(), { open: (r, s) => checkouts.open(r, s), close: () => checkouts.close() });

async function commit(files: FileTree): Promise<string> {
  await writeTree(repo.path, files);
  git(repo.path, 'add', '-A');
  git(repo.path, 'commit', '-q', '-m', 'candidate');
  return git(repo.path, 'rev-parse', 'HEAD');
}

function request(experiment: string, at: string, spec: Partial<SpecInput> = {}): EvaluationRequest {
  return {
    runId: 'run-1',
    experiment,
    commit: at,
    parentCommit: undefined,
    spec: specSchema.parse({
      objective: 'x',
      sandbox: 'bwrap',
      protected: ['bench.sh'],
      setup: { run: SETUP, inputs: ['package-lock.json'] },
      bench: { run: 'sh bench.sh', metric: { name: 'score', goal: 'maximize' } },
      ...spec,
    }),
    baseCommit: base,
    source: { kind: 'local', gitDir: join(repo.path, '.git') },
  };
}

interface Evaluated {
  setup: StageOutcome;
  checks: StageOutcome[];
  score: number | undefined;
  /** What the bench saw of setup's outputs. */
  seen: string;
  log: (stage: string) => Promise<string>;
}

async function evaluate(req: EvaluationRequest): Promise<Evaluated> {
  const dir = join(logs.path, req.experiment);
  const setup = await execute(req, 'setup', never, dir);
  const checks = await execute(req, 'checks', never, dir);
  const bench = await execute(req, 'bench', never, dir);
  const log = (stage: string): Promise<string> => readFile(join(dir, `${stage}.log`), 'utf8');
  const seen = /id=\S+ dep=\S+/.exec(await log('bench'))?.[0] ?? '(nothing)';
  return { setup: setup.outcomes[0]!, checks: checks.outcomes, score: bench.measurement?.metric, seen, log };
}

describe('setup with inputs, on pooled worktrees', () => {
  it("reuses setup's outputs for the next candidate while the inputs are unchanged, with the protected files still the base's", async () => {
    const first = await evaluate(request('e0001', await commit({ 'score.txt': '11\n' })));
    expect(first.setup).toMatchObject({ status: 'ok', reason: 'setup passed' });
    // The next candidate also rewrites the (protected) bench to win.
    const second = await evaluate(request('e0002', await commit({ 'score.txt': '12\n', 'bench.sh': 'echo "METRIC score=1000"\n' })));
    expect(second.setup).toMatchObject({ status: 'ok', reason: 'setup reused: inputs unchanged (package-lock.json)' });
    expect(await second.log('setup')).toContain('setup reused: inputs unchanged (package-lock.json): setup did not run');
    expect(second.seen).toBe(first.seen);
    expect(second.seen).toMatch(/dep=v1$/);
    expect(second.score).toBe(12);
  });

  it('runs setup again when an input changed, in the worktree cleaned and with the protected files the base’s', async () => {
    const first = await evaluate(request('e0001', await commit({ 'score.txt': '11\n' })));
    const second = await evaluate(request('e0002', await commit({ 'package-lock.json': 'v2\n', 'score.txt': '12\n', 'bench.sh': 'echo "METRIC score=1000"\n' })));
    expect(second.score).toBe(12);
    expect(second.setup).toMatchObject({ status: 'ok', reason: 'setup passed' });
    expect(await second.log('setup')).toContain('setup runs: input changed (package-lock.json)');
    expect(second.seen).not.toBe(first.seen);
    expect(second.seen).toMatch(/dep=v2$/);
  });

  it("runs setup again when setup's outputs changed since it ran", async () => {
    const opened = await checkouts.open(request('e0001', base), never);
    if (!opened.ok) throw new Error(opened.reason);
    const worktree = opened.place.candidate;
    opened.place.release({ unsandboxed: false });
    await evaluate(request('e0001', await commit({ 'score.txt': '11\n' })));
    // From outside any sandbox, where nothing keeps a process from it.
    await writeFile(join(worktree, 'node_modules', 'dep', 'version'), 'tampered\n');
    const second = await evaluate(request('e0002', await commit({ 'score.txt': '12\n' })));
    expect(second.setup).toMatchObject({ status: 'ok', reason: 'setup passed' });
    expect(await second.log('setup')).toContain("setup runs: setup's outputs changed since it ran (node_modules/dep/version)");
    expect(second.seen).toMatch(/dep=v1$/);
  });

  it('keeps a candidate from writing into setup’s outputs, so the next candidate gets them intact', async () => {
    const poison = 'for f in node_modules/dep/version node_modules/new; do if echo poison > $f 2>/dev/null; then echo "WROTE $f"; else echo "refused $f"; fi; done; rm -rf node_modules 2>/dev/null; true';
    const first = await evaluate(request('e0001', await commit({ 'score.txt': '11\n' }), { checks: [{ name: 'poison', run: poison }] }));
    expect(first.checks.map((o) => o.status)).toEqual(['ok']);
    const checksLog = await first.log('checks');
    expect(checksLog).toContain('refused node_modules/dep/version');
    expect(checksLog).toContain('refused node_modules/new');
    expect(checksLog).not.toMatch(/^WROTE/m);
    const second = await evaluate(request('e0002', await commit({ 'score.txt': '12\n' }), { checks: [{ name: 'poison', run: poison }] }));
    expect(second.setup.reason).toBe('setup reused: inputs unchanged (package-lock.json)');
    expect(second.seen).toBe(first.seen);
    expect(second.seen).toMatch(/dep=v1$/);
  });

  it('cleans a worktree handed over whose inputs changed, and replaces it when it is not clean after', async () => {
    // The real guard, but the first worktree handed over seems to keep a file no clean removes.
    const real = new GitCheckoutGuard();
    let stuck = 0;
    const guard: CheckoutGuard = Object.assign(Object.create(real) as GitCheckoutGuard, {
      leftovers: async (worktree: string) => (stuck++ === 0 ? ['stuck.bin'] : real.leftovers(worktree)),
    });
    const strict = createStageExecutor(new ExecaCommandRunner({ killGraceMs: 200 }), guard, { open: (r, s) => checkouts.open(r, s), close: () => checkouts.close() });
    const worktreeOf = async (req: EvaluationRequest): Promise<string> => {
      const opened = await checkouts.open(req, never);
      if (!opened.ok) throw new Error(opened.reason);
      opened.place.release({ unsandboxed: false });
      return opened.place.candidate;
    };
    const first = request('e0001', await commit({ 'score.txt': '11\n' }));
    expect((await strict(first, 'setup', never, join(logs.path, 'e0001'))).outcomes[0]?.status).toBe('ok');
    const second = request('e0002', await commit({ 'package-lock.json': 'v2\n' }));
    const refused = await strict(second, 'setup', never, join(logs.path, 'e0002'));
    expect(refused.outcomes[0]).toMatchObject({ status: 'crash', reason: expect.stringMatching(/is not clean after its reset \(stuck\.bin\): it is replaced$/) as unknown });
    const handedOver = await worktreeOf(second);
    // Not handed to the next experiment: that one gets a new worktree, set up from scratch.
    const third = request('e0003', await commit({ 'score.txt': '13\n' }));
    const next = await evaluate(third);
    expect(next.setup).toMatchObject({ status: 'ok', reason: 'setup passed' });
    expect(await worktreeOf(third)).not.toBe(handedOver);
    expect(next.score).toBe(13);
  });

  it('runs setup in every worktree when stages run outside the sandbox, and says why once', async () => {
    const first = await evaluate(request('e0001', await commit({ 'score.txt': '11\n' }), { sandbox: 'none' }));
    const second = await evaluate(request('e0002', await commit({ 'score.txt': '12\n' }), { sandbox: 'none' }));
    for (const evaluated of [first, second]) expect(evaluated.setup).toMatchObject({ status: 'ok', reason: 'setup passed' });
    expect(second.seen).not.toBe(first.seen);
    const said = (await second.log('setup')).match(/outside the sandbox/g);
    expect(said).toHaveLength(1);
    expect(second.score).toBe(12);
  });
});
