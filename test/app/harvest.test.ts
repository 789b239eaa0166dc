/**
 * Harvesting a real run (replay agent, real git, the test Redis): pick, squash, chosen
 * experiments, split, a conflict finished and aborted with the printed commands, a dirty
 * working tree, and diff (the best against the base, one experiment against its parent).
 */
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffRun, pickRun, type PickConflict, type PickDone } from '../../src/app/harvest.js';
import type { SplitResult } from '../../src/app/harvest-split.js';
import { startRun } from '../../src/app/run.js';
import { UserError } from '../../src/domain/errors.js';
import { describePublishedRun } from '../../src/queue/event-stream.js';
import { runCli, waitFor } from '../helpers/cli.js';
import { git, gitdir, tempDir, writeTree } from '../helpers/gitdir.js';
import { testRedisSocket } from '../helpers/redis.js';
import { checkoutSnapshot, replaceLinePatch, writePatches } from '../helpers/target.js';

// The score is value + weight: keeps that touch either file are independent of each other.
const SPEC = `objective: make the score lower
editable: ["value.txt", "weight.txt"]
protected: ["bench.sh", "ratchet.yaml"]
bench:
  run: sh bench.sh
  timeout: 10s
  metric: { name: score, goal: minimize }
`;
const FILES = {
  'value.txt': '10\n',
  'weight.txt': '5\n',
  'bench.sh': 'echo "METRIC score=$(( $(cat value.txt) + $(cat weight.txt) ))"\n',
  'ratchet.yaml': SPEC,
};
const PATCHES = {
  '01.patch': replaceLinePatch('value.txt', '10', '8', 'lower the value to 8'),
  '02.patch': replaceLinePatch('weight.txt', '5', '3', 'lower the weight to 3'),
  '03.patch': replaceLinePatch('value.txt', '8', '9', 'raise the value to 9'),
  '04.patch': replaceLinePatch('value.txt', '8', '7', 'lower the value to 7'),
  // Written against a value long gone: rejected before any commit.
  '05.patch': replaceLinePatch('value.txt', '10', '1', 'a stale idea'),
};
const KEPT = ['e0001', 'e0002', 'e0004'];
const DESCRIPTIONS = ['lower the value to 8', 'lower the weight to 3', 'lower the value to 7'];

describe('harvesting a run', () => {
  const runId = `harvest-${randomUUID().slice(0, 6)}`;
  let repo: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let base: string;
  const at = (rev: string, file: string): string => git(repo.path, 'show', `${rev}:${file}`);
  const subjects = (range: string): string[] => git(repo.path, 'log', '--reverse', '--format=%s', range).split('\n').filter(Boolean);
  const bestTree = (): string => git(repo.path, 'rev-parse', `ratchet/${runId}/best^{tree}`);

  /** A branch from the base whose value.txt conflicts with every kept change to it. */
  async function conflictingBranch(name: string): Promise<string> {
    const wt = join(work.path, `wt-${name}`);
    git(repo.path, 'worktree', 'add', '-q', '-b', name, wt, base);
    await writeFile(join(wt, 'value.txt'), '20\n');
    git(wt, 'commit', '-qam', 'my own value');
    git(repo.path, 'worktree', 'remove', wt);
    return git(repo.path, 'rev-parse', name);
  }

  beforeAll(async () => {
    repo = await gitdir(FILES);
    work = await tempDir();
    root = join(work.path, 'experiments');
    base = git(repo.path, 'rev-parse', 'HEAD');
    await writePatches(join(work.path, 'patches'), PATCHES);
    const outcome = await startRun({
      repo: repo.path,
      flags: { agent: 'replay', patches: join(work.path, 'patches') },
      experimentsRoot: root,
      runId,
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
    });
    expect(outcome.summary.counts.keep).toBe(3);
  }, 120_000);

  afterAll(async () => {
    await repo.cleanup();
    await work.cleanup();
  });

  it('picks the kept commits in order onto a new branch from the base, without touching the checkout', async () => {
    const before = checkoutSnapshot(repo.path);
    const result = (await pickRun({ experimentsRoot: root, runId })) as PickDone;
    expect(result).toMatchObject({ status: 'picked', branch: `ratchet/${runId}/picked`, created: true, from: base, matchesBest: true });
    expect(result.changes.map((c) => c.experiment)).toEqual(KEPT);
    expect(subjects(`${base}..ratchet/${runId}/picked`)).toEqual(DESCRIPTIONS);
    expect(git(repo.path, 'rev-parse', `ratchet/${runId}/picked^{tree}`)).toBe(bestTree());
    expect(checkoutSnapshot(repo.path)).toEqual(before);
    expect(git(repo.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });

  it('squashes into one commit whose message lists every change and its gain', async () => {
    const result = (await pickRun({ experimentsRoot: root, runId, squash: true, branch: 'squashed' })) as PickDone;
    expect(result).toMatchObject({ status: 'picked', squashed: true, matchesBest: true });
    expect(git(repo.path, 'rev-list', '--count', `${base}..squashed`)).toBe('1');
    const message = git(repo.path, 'log', '-1', '--format=%B', 'squashed');
    expect(message.split('\n')[0]).toBe(`ratchet ${runId}: 3 kept changes (score 15 → 10, +33.3%)`);
    // Each gain is over the best of its time: 15 → 13, 13 → 11, 11 → 10.
    expect(message).toContain('- e0001 lower the value to 8 (+13.3%)\n- e0002 lower the weight to 3 (+15.4%)\n- e0004 lower the value to 7 (+9.1%)');
  });

  it('picks only the experiments named, and names those that were not kept', async () => {
    const result = (await pickRun({ experimentsRoot: root, runId, experiments: ['e0002', 'e0001'], branch: 'chosen' })) as PickDone;
    expect(result.matchesBest).toBeUndefined();
    expect(subjects(`${base}..chosen`)).toEqual(DESCRIPTIONS.slice(0, 2));
    const wrong = pickRun({ experimentsRoot: root, runId, experiments: ['e0003', 'e0002', 'e0042'], branch: 'never' });
    await expect(wrong).rejects.toThrow(UserError);
    await expect(wrong).rejects.toThrow(`not kept in run ${runId}: e0003 (discard), e0042 (no such experiment)`);
  });

  it('splits the kept changes into independent branches whose union is the best tree', async () => {
    const result = (await pickRun({ experimentsRoot: root, runId, split: true })) as SplitResult;
    expect(result.groups.map((g) => [g.branch, g.experiments, g.files])).toEqual([
      [`ratchet/${runId}/split-1-lower-the-value-to-8`, ['e0001', 'e0004'], ['value.txt']],
      [`ratchet/${runId}/split-2-lower-the-weight-to-3`, ['e0002'], ['weight.txt']],
    ]);
    expect(result.union).toMatchObject({ matches: true, tree: bestTree(), problem: undefined });
    for (const group of result.groups) expect(git(repo.path, 'merge-base', base, group.branch)).toBe(base);
    expect([at(result.groups[0]!.branch, 'value.txt'), at(result.groups[0]!.branch, 'weight.txt')]).toEqual(['7', '5']);
    expect([at(result.groups[1]!.branch, 'value.txt'), at(result.groups[1]!.branch, 'weight.txt')]).toEqual(['10', '3']);
  });

  it('reports, as data, a split whose union is not the best tree', async () => {
    const earlier = git(repo.path, 'for-each-ref', '--format=%(refname:short)', `refs/heads/ratchet/${runId}/split-*`).split('\n').filter(Boolean);
    if (earlier.length > 0) git(repo.path, 'branch', '-D', ...earlier);
    const best = git(repo.path, 'rev-parse', `ratchet/${runId}/best`);
    git(repo.path, 'update-ref', `refs/heads/ratchet/${runId}/best`, `ratchet/${runId}/e0002`);
    try {
      const result = (await pickRun({ experimentsRoot: root, runId, experiments: KEPT.slice(0, 2), split: true })) as SplitResult;
      expect(result.union.matches).toBeUndefined();
      git(repo.path, 'branch', '-D', ...result.groups.map((g) => g.branch));
      const all = (await pickRun({ experimentsRoot: root, runId, split: true })) as SplitResult;
      expect(all.union).toMatchObject({ matches: false, problem: expect.stringMatching(/^the groups together give tree \w+, the best branch has \w+$/) });
      git(repo.path, 'branch', '-D', ...all.groups.map((g) => g.branch));
    } finally {
      git(repo.path, 'update-ref', `refs/heads/ratchet/${runId}/best`, best);
    }
  });

  it('stops cleanly on a conflict, and the printed commands finish the pick', async () => {
    const feature = await conflictingBranch('feature');
    const result = (await pickRun({ experimentsRoot: root, runId, onto: 'feature' })) as PickConflict;
    expect(result).toMatchObject({ status: 'conflict', experiment: 'e0001', files: ['value.txt'], applied: [], remaining: KEPT });
    expect(git(repo.path, 'rev-parse', 'feature')).toBe(feature);
    await writeFile(join(result.worktree, 'value.txt'), '8\n');
    for (const command of result.commands.continue) execSync(command, { cwd: work.path, stdio: 'pipe' });
    expect(subjects(`${base}..feature`)).toEqual(['my own value', ...DESCRIPTIONS]);
    expect([at('feature', 'value.txt'), at('feature', 'weight.txt')]).toEqual(['7', '3']);
    expect(git(repo.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });

  it('aborts a stopped pick with the printed commands, leaving the branch as it was', async () => {
    const mine = await conflictingBranch('mine');
    const result = (await pickRun({ experimentsRoot: root, runId, onto: 'mine', squash: true })) as PickConflict;
    expect(result.status).toBe('conflict');
    await expect(pickRun({ experimentsRoot: root, runId, onto: 'mine' })).rejects.toThrow(/an earlier pick of run .* is unfinished/);
    for (const command of result.commands.abort) execSync(command, { cwd: work.path, stdio: 'pipe' });
    expect(git(repo.path, 'rev-parse', 'mine')).toBe(mine);
    expect(git(repo.path, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1);
  });

  it('prints the commands to continue or abort from the CLI, and exits 1', async () => {
    await conflictingBranch('cli');
    const result = await runCli(['pick', runId, '--experiments', root, '--onto', 'cli']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('stopped: e0001');
    expect(result.stdout).toMatch(/to continue: fix the files in .*, then run/);
    expect(result.stdout).toContain('cherry-pick --continue --no-edit');
    expect(result.stdout).toMatch(/to abort \(nothing else changed\):\n {2}git -C \S+ worktree remove --force \S+/);
    execSync(result.stdout.trim().split('\n').at(-1)!.trim(), { stdio: 'pipe' });
  });

  it('refuses to pick on a dirty working tree, naming the files and git stash', async () => {
    await writeTree(repo.path, { 'weight.txt': '4\n' });
    try {
      const dirty = pickRun({ experimentsRoot: root, runId, branch: 'dirty' });
      await expect(dirty).rejects.toThrow(/has uncommitted changes: weight\.txt/);
      await expect(dirty).rejects.toMatchObject({ hint: expect.stringContaining('stash') });
    } finally {
      git(repo.path, 'checkout', '--', 'weight.txt');
    }
  });

  it('diffs the best against the base', async () => {
    const best = await diffRun({ experimentsRoot: root, runId });
    expect(best.files).toEqual([
      { path: 'value.txt', insertions: 1, deletions: 1 },
      { path: 'weight.txt', insertions: 1, deletions: 1 },
    ]);
    expect(best.patch).toContain('-10\n+7');
    expect(best.patch).toContain('-5\n+3');
    const one = await diffRun({ experimentsRoot: root, runId, experiment: 'e0001', stat: true });
    expect(one).toMatchObject({ ref: `ratchet/${runId}/e0001`, files: [{ path: 'value.txt' }], patch: undefined });
    expect(one.stat).toContain('value.txt | 2 +-');
    await expect(diffRun({ experimentsRoot: root, runId, experiment: 'e0042' })).rejects.toThrow(UserError);
  });

  it("diffs one experiment's own change against its parent, not the keeps before it", async () => {
    const result = await runCli(['diff', runId, 'e0004', '--experiments', root]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('-8\n+7');
    expect(result.stdout).not.toContain('weight.txt');
    const discarded = await diffRun({ experimentsRoot: root, runId, experiment: 'e0003' });
    expect(discarded.files).toEqual([{ path: 'value.txt', insertions: 1, deletions: 1 }]);
    expect(discarded.patch).toContain('-8\n+9');
  });

  it('shows nothing for an experiment that made no commit, and says why', async () => {
    const result = await runCli(['diff', runId, 'e0005', '--experiments', root]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^e0005 made no commit \\(rejected: .*does not apply.*\\), so it has no change to show; see it with: ratchet show ${runId} e0005\\n$`));
    const json = JSON.parse((await runCli(['diff', runId, 'e0005', '--experiments', root, '--json'])).stdout) as Record<string, unknown>;
    expect(json.commit).toBeUndefined();
    expect(json).toMatchObject({ files: [], patch: '', note: expect.stringContaining('e0005 made no commit') });
  });

  // Last: it moves the checked-out main branch and its files.
  it('fast-forwards an --onto branch that is checked out, files included', async () => {
    const result = (await pickRun({ experimentsRoot: root, runId, onto: 'main', experiments: ['e0002'] })) as PickDone;
    expect(result).toMatchObject({ status: 'picked', created: false, from: base, updatedCheckout: repo.path });
    expect(subjects(`${base}..main`)).toEqual(['lower the weight to 3']);
    expect(await readFile(join(repo.path, 'weight.txt'), 'utf8')).toBe('3\n');
    expect(git(repo.path, 'status', '--porcelain')).toBe('');
  });

  it('published its events to the shared Redis for watchers elsewhere', async () => {
    const lines = (await readFile(join(root, runId, 'events.jsonl'), 'utf8')).trim().split('\n').length;
    await waitFor(async () => (await describePublishedRun({ path: testRedisSocket() }, 'ratchet', runId)).events === lines, 5000, 'every event');
    expect((await describePublishedRun({ path: testRedisSocket() }, 'ratchet', runId)).info?.runId).toBe(runId);
  });
});
