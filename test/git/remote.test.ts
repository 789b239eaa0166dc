/**
 * Commits through a git remote, against real git: what the orchestrator pushes, a worker's clone
 * fetches; a job a worker cannot serve through its remote ends with a reason that says why.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EvaluationRequest } from '../../src/domain/evaluation.js';
import { specSchema } from '../../src/domain/spec.js';
import { WorkerCheckouts } from '../../src/git/eval-checkouts.js';
import { cloneDir, pushCommits, remoteClones, remoteRef } from '../../src/git/remote.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';

let repo: { path: string; cleanup: () => Promise<void> };
let work: { path: string; cleanup: () => Promise<void> };
let remote: string;
let head: string;
beforeEach(async () => {
  repo = await gitdir({ 'a.txt': 'a\n' });
  work = await tempDir('ratchet-remote-');
  remote = join(work.path, 'remote.git');
  git(work.path, 'init', '--quiet', '--bare', remote);
  head = git(repo.path, 'rev-parse', 'HEAD');
});
afterEach(async () => {
  await repo.cleanup();
  await work.cleanup();
});

const never = new AbortController().signal;

function request(url: string, commit = head): EvaluationRequest {
  return {
    runId: 'run-1',
    experiment: 'e0001',
    commit,
    parentCommit: undefined,
    spec: specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'x', goal: 'maximize' } } }),
    baseCommit: commit,
    source: { kind: 'remote', url },
  };
}

describe('commits through a remote', () => {
  it("pushes a run's commits under refs/ratchet/<run>/ and a worker's clone fetches them into its own folder", async () => {
    expect(await pushCommits(repo.path, remote, [{ commit: head, ref: remoteRef('run-1', 'e0001') }])).toBeUndefined();
    expect(git(remote, 'rev-parse', 'refs/ratchet/run-1/e0001')).toBe(head);
    const workdir = join(work.path, 'worker');
    const checkouts = new WorkerCheckouts({ remotes: remoteClones(workdir) });
    try {
      const opened = await checkouts.open(request(remote), never);
      expect(opened.ok).toBe(true);
      if (!opened.ok) return;
      expect(opened.place.gitDir).toBe(cloneDir(workdir, remote));
      expect(opened.place.candidate.startsWith(join(workdir, 'repos'))).toBe(true);
      expect(git(opened.place.candidate, 'rev-parse', 'HEAD')).toBe(head);
      opened.place.release();
    } finally {
      await checkouts.close();
    }
  });

  it('says the remote has not got the commit when it was never pushed', async () => {
    const located = await remoteClones(join(work.path, 'worker'))({ kind: 'remote', url: remote }, [head], 'run-1', never);
    expect(located).toEqual({ ok: false, reason: `this worker cannot serve the job: the remote ${remote} has no commit ${head} under refs/ratchet/run-1/` });
  });

  it('says fetching failed when the remote cannot be reached', async () => {
    const gone = join(work.path, 'no-such-remote.git');
    const located = await remoteClones(join(work.path, 'worker'))({ kind: 'remote', url: gone }, [head], 'run-1', never);
    expect(located.ok).toBe(false);
    if (!located.ok) expect(located.reason).toContain(`this worker cannot serve the job: fetching from the remote ${gone} failed`);
  });

  it('refuses a remote job on a worker that fetches from no remote, saying so', async () => {
    const opened = await new WorkerCheckouts().open(request(remote), never);
    expect(opened).toEqual({ ok: false, reason: `this worker cannot serve the job: its commits are on the remote ${remote}, and this worker fetches from no remote` });
  });
});
