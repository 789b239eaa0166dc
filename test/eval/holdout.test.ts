/**
 * The holdout: its folder's checks in the spec, its rule, and what each sandbox lets a command
 * see of it (real bubblewrap: the holdout lies inside a folder every sandbox shows read-only,
 * so only the hiding keeps it out).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSandbox } from '../../src/agents/sandbox.js';
import { renderPrompt } from '../../src/agents/prompt.js';
import type { CheckoutRecord } from '../../src/domain/checkout-guard.js';
import type { SandboxRequest } from '../../src/domain/command-runner.js';
import type { BenchSample } from '../../src/domain/evaluation.js';
import type { LocatedRequest } from '../../src/eval/isolation.js';
import type { HoldoutResult } from '../../src/domain/decision.js';
import type { ProposalContext } from '../../src/domain/proposal.js';
import { decideHoldout, withHoldout } from '../../src/plan/holdout-decision.js';
import { stageSandbox, treeOfFiles } from '../../src/eval/stage-sandbox.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { checkHoldoutDir } from '../../src/spec/holdout.js';
import { specSchema, type HoldoutSpec, type Spec, type SpecInput } from '../../src/domain/spec.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';

function spec(extra: Partial<SpecInput> = {}): Spec {
  return specSchema.parse({ objective: 'lower', bench: { run: 'sh bench.sh', metric: { name: 'score', goal: 'minimize' } }, ...extra });
}

function holdout(extra: Record<string, unknown> = {}): HoldoutSpec {
  return spec({ holdout: { dir: '/h', run: 'sh {holdout}/confirm.sh', metric: { name: 'cost', goal: 'minimize' }, ...extra } }).holdout!;
}

const one = (metric: number) => ({ metric, samples: [{ side: 'candidate' as const, metric, secondary: {} }], secondary: {} });

describe('the holdout folder in the spec', () => {
  let repo: { path: string; cleanup: () => Promise<void> };
  let outside: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    repo = await gitdir({ 'a.txt': 'a\n', 'eval/confirm.sh': 'echo\n' });
    outside = await tempDir('ratchet-holdout-');
    await mkdir(join(outside.path, 'holdout-eval'));
    await writeFile(join(outside.path, 'a-file'), 'x\n');
  });
  afterAll(async () => {
    await repo.cleanup();
    await outside.cleanup();
  });
  const check = (dir: string, base = repo.path) => checkHoldoutDir(spec({ holdout: { dir, run: 'true', metric: { name: 'cost', goal: 'minimize' } } }), { base, repo: repo.path, gitDir: join(repo.path, '.git') });

  it('defaults to no_regress with one run, and needs dir, run and metric', () => {
    expect(holdout()).toMatchObject({ rule: 'no_regress', repeat: 1, timeout: 600_000, min_effect: { kind: 'absolute', value: 0 } });
    expect(specSchema.safeParse({ objective: 'x', bench: { run: 'b', metric: { name: 's', goal: 'minimize' } }, holdout: { dir: 'h' } }).success).toBe(false);
  });

  it('resolves the folder relative to the spec and accepts one outside the repository', async () => {
    const result = await check(relative(repo.path, join(outside.path, 'holdout-eval')));
    expect(result).toEqual({ dir: join(outside.path, 'holdout-eval'), issues: [] });
  });

  it('refuses a folder inside the repository or its git dir, saying where to move it', async () => {
    const inside = await check('eval');
    expect(inside.dir).toBeUndefined();
    expect(inside.issues).toEqual([{ path: 'holdout.dir', message: expect.stringMatching(/is inside the target repository .* move it outside, for example to/) }]);
    const gitDir = await check('.git');
    expect(gitDir.issues.map((i) => i.message).join('\n')).toMatch(/inside the target repository/);
  });

  it('reports a missing folder and its place in one go, and a file as not a folder', async () => {
    const missing = await check('eval/nope');
    expect(missing.issues.map((i) => i.message)).toEqual([expect.stringMatching(/does not exist/), expect.stringMatching(/is inside the target repository/)]);
    const file = await check(join(outside.path, 'a-file'));
    expect(file.issues).toEqual([{ path: 'holdout.dir', message: expect.stringMatching(/is not a folder/) }]);
  });

  it('refuses a folder that holds the repository', async () => {
    const above = await check(join(repo.path, '..'));
    expect(above.issues.map((i) => i.message).join('\n')).toMatch(/contains the target repository/);
  });
});

describe('the holdout rule', () => {
  it('no_regress with one run: a tie or a gain holds, any loss is overfit', () => {
    expect(decideHoldout({ holdout: holdout(), recordedParent: 5, measurement: one(5) })).toMatchObject({ passed: true, parent: 5, change: 0 });
    expect(decideHoldout({ holdout: holdout(), recordedParent: 5, measurement: one(4) }).passed).toBe(true);
    const worse = decideHoldout({ holdout: holdout(), recordedParent: 5, measurement: one(5.1) });
    expect(worse).toMatchObject({ passed: false, metric: 5.1, parent: 5, reason: 'cost +2.0% (5 → 5.1)' });
  });

  it('no_regress tolerates a loss up to min_effect; improve needs a gain of at least it', () => {
    expect(decideHoldout({ holdout: holdout({ min_effect: '5%' }), recordedParent: 5, measurement: one(5.2) }).passed).toBe(true);
    expect(decideHoldout({ holdout: holdout({ min_effect: '5%' }), recordedParent: 5, measurement: one(5.3) }).passed).toBe(false);
    expect(decideHoldout({ holdout: holdout({ rule: 'improve' }), recordedParent: 5, measurement: one(5) }).passed).toBe(false);
    expect(decideHoldout({ holdout: holdout({ rule: 'improve' }), recordedParent: 5, measurement: one(4.9) }).passed).toBe(true);
    expect(decideHoldout({ holdout: holdout({ rule: 'improve', min_effect: '5%' }), recordedParent: 5, measurement: one(4.9) }).passed).toBe(false);
  });

  it('with A/B pairs, no_regress calls overfit only a loss the pairs show', () => {
    const noisy = (shift: number): BenchSample[] =>
      Array.from({ length: 12 }, (_, i) => {
        const drift = 100 + 5 * Math.sin(i * 1.7);
        const noise = 1.5 * Math.cos(i * 2.3);
        return [
          { side: 'candidate' as const, metric: drift * shift + noise, secondary: {} },
          { side: 'parent' as const, metric: drift - noise, secondary: {} },
        ];
      }).flat();
    const h = holdout({ repeat: 12 });
    const m = (samples: BenchSample[]) => ({ metric: 0, samples, secondary: {} });
    expect(decideHoldout({ holdout: h, recordedParent: undefined, measurement: m(noisy(1)) })).toMatchObject({ passed: true, pairs: 12 });
    const loss = decideHoldout({ holdout: h, recordedParent: undefined, measurement: m(noisy(1.1)) });
    expect(loss).toMatchObject({ passed: false, pairs: 12 });
    expect(loss.reason).toMatch(/^cost \+\d+\.\d% \(.+ → .+, medians of 12 pairs, p[<=]/);
    // improve asks the opposite: a no-op is not shown to be better.
    expect(decideHoldout({ holdout: holdout({ repeat: 12, rule: 'improve' }), recordedParent: undefined, measurement: m(noisy(1)) }).passed).toBe(false);
    expect(decideHoldout({ holdout: holdout({ repeat: 12, rule: 'improve' }), recordedParent: undefined, measurement: m(noisy(0.9)) }).passed).toBe(true);
  });

  it('turns a keep into overfit with both numbers in the reason, and leaves a held keep alone', () => {
    const keep = { verdict: 'keep' as const, reason: 'score 10 → 8 (+20.0%)', delta: -2, gain: 0.2 };
    const failed: HoldoutResult = { metric: 6, parent: 5, change: 0.2, rule: 'no_regress', passed: false, reason: 'cost +20.0% (5 → 6)' };
    expect(withHoldout(keep, 'score', -0.2, holdout(), failed)).toMatchObject({ verdict: 'overfit', reason: 'bench score -20.0% but holdout cost +20.0% (5 → 6): rule no_regress', gain: 0.2 });
    expect(withHoldout(keep, 'score', -0.2, holdout(), { ...failed, passed: true })).toBe(keep);
  });
});

describe('what each sandbox shows of the holdout (bubblewrap)', () => {
  let repo: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let holdoutDir: string;
  let worktree: string;
  const runner = new ExecaCommandRunner({ killGraceMs: 300 });
  beforeAll(async () => {
    repo = await gitdir({ 'bench.sh': 'echo\n', 'src/a.txt': 'a\n' });
    worktree = repo.path;
    work = await tempDir('ratchet-holdout-sandbox-');
    holdoutDir = join(work.path, 'shared', 'holdout-eval');
    await mkdir(holdoutDir, { recursive: true });
    await writeFile(join(holdoutDir, 'secret.txt'), 'HOLDOUT-SECRET\n');
  });
  afterAll(async () => {
    await repo.cleanup();
    await work.cleanup();
  });

  // The holdout's parent folder is a toolchain folder every sandbox shows: only the hiding keeps it out.
  const runSpec = (): Spec =>
    spec({ sandbox: 'bwrap', sandbox_paths: [join(work.path, 'shared')], holdout: { dir: holdoutDir, run: 'true', metric: { name: 'cost', goal: 'minimize' } } });
  const request = (): LocatedRequest => ({
    runId: 'r',
    experiment: 'e0001',
    worktree,
    commit: git(repo.path, 'rev-parse', 'HEAD'),
    parentWorktree: undefined,
    parentCommit: undefined,
    logDir: join(work.path, 'logs'),
    ran: { unsandboxed: false },
    fresh: new Set(),
    carried: new Set(),
    trusted: new Set(),
    spec: runSpec(),
    baseCommit: git(repo.path, 'rev-parse', 'HEAD'),
    gitDir: join(repo.path, '.git'),
    source: { kind: 'local', gitDir: join(repo.path, '.git') },
  });
  const record = (): CheckoutRecord => ({ commit: 'c', tree: treeOfFiles(['bench.sh', 'src/a.txt']), tracked: new Set(), setupTouched: new Set() });
  const peek = async (sandbox: SandboxRequest): Promise<string> => {
    const result = await runner.run({
      command: `ls ${holdoutDir} | sed 's/^/listed:/'; cat ${holdoutDir}/secret.txt; echo x > ${holdoutDir}/written && echo WROTE; ls ${join(work.path, 'shared')}`,
      cwd: worktree,
      timeoutMs: 20_000,
      logFile: join(work.path, 'logs', 'peek.log'),
      sandbox,
    });
    expect(result.sandboxed).toBe(true);
    return result.output;
  };

  it('shows the folder read-only to the holdout stage alone', async () => {
    const output = await peek(stageSandbox(request(), 'holdout', worktree, record()));
    expect(output).toContain('listed:secret.txt');
    expect(output).toContain('HOLDOUT-SECRET');
    expect(output).not.toContain('WROTE');
  });

  it.each(['setup', 'checks', 'bench'] as const)('hides it from the %s stage, though its parent folder is visible', async (stage) => {
    const output = await peek(stageSandbox(request(), stage, worktree, record()));
    expect(output).toContain('holdout-eval'); // the folder above is there…
    expect(output).not.toContain('listed:'); // …the holdout is empty
    expect(output).not.toContain('HOLDOUT-SECRET');
    // What it writes there lands in a private folder, never in the holdout.
    expect(existsSync(join(holdoutDir, 'written'))).toBe(false);
  });

  it("hides it from the agent's commands, even behind a folder the user binds for the agent", async () => {
    const context = { spec: runSpec(), worktree, gitDir: join(repo.path, '.git') } as unknown as ProposalContext;
    const output = await peek(agentSandbox(context, ['bench.sh', 'src/a.txt'], { network: false, extra: [{ kind: 'rw', path: join(work.path, 'shared') }] }));
    expect(output).not.toContain('HOLDOUT-SECRET');
    expect(output).not.toContain('listed:');
    expect(existsSync(join(holdoutDir, 'written'))).toBe(false);
  });

  it("leaves the holdout out of the agent's prompt", () => {
    const context: ProposalContext = {
      runId: 'r',
      experiment: 'e0001',
      worktree,
      parentCommit: 'c',
      spec: runSpec(),
      objective: 'lower the score',
      history: [],
      best: { experiment: 'e0000', metric: 10, commit: 'c' },
      lastFailure: undefined,
      experimentDir: work.path,
      gitDir: join(repo.path, '.git'),
    };
    const prompt = JSON.stringify(renderPrompt(context));
    expect(prompt).not.toContain('holdout');
    expect(prompt).not.toContain('cost');
  });
});
