import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { CommandProposer, expandCommand, lastLine, type CommandAgentSpec } from '../../src/agents/command.js';
import { AbortedError } from '../../src/domain/errors.js';
import type { ProposalContext, ProposalOutcome } from '../../src/domain/proposal.js';
import { specSchema } from '../../src/domain/spec.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';
import { processesRunning } from '../helpers/procs.js';

const FILES = {
  'src/sort.js': 'export const sort = (a) => a.slice().sort((x, y) => x - y);\n',
  'test/sort.test.js': 'process.exit(0);\n',
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup(run: string, timeout: string | number = 30) {
  const main = await gitdir(FILES);
  const runDir = await tempDir('ratchet-exp-');
  cleanups.push(main.cleanup, runDir.cleanup);
  // A linked worktree, as ratchet gives agents: its repository is read-only in the sandbox.
  const repo = { path: join(runDir.path, 'wt') };
  git(main.path, 'worktree', 'add', '--quiet', '--detach', repo.path, 'HEAD');
  const spec = specSchema.parse({
    objective: "Make sort faster; don't touch the tests.",
    editable: ['src/**'],
    protected: ['test/**'],
    bench: { run: 'true', metric: { name: 'ops', goal: 'maximize' } },
    agent: { kind: 'command', run, timeout },
  });
  const head = git(repo.path, 'rev-parse', 'HEAD');
  const context: ProposalContext = {
    runId: 'r1',
    experiment: 'e0001',
    worktree: repo.path,
    parentCommit: head,
    spec,
    objective: spec.objective,
    history: [{ experiment: 'e0000', verdict: 'keep', metric: 10, description: 'baseline', reason: 'baseline' }],
    best: { experiment: 'e0000', metric: 10, commit: head },
    lastFailure: undefined,
    experimentDir: join(runDir.path, 'e0001'),
    gitDir: join(main.path, '.git'),
  };
  const proposer = new CommandProposer(spec.agent as CommandAgentSpec, { runner: new ExecaCommandRunner() });
  return { repo: repo.path, head, context, propose: (signal = new AbortController().signal): Promise<ProposalOutcome> => proposer.propose(context, signal) };
}

describe('command agent', () => {
  it('returns the change it left in the worktree, described by .ratchet/description, which it then removes', async () => {
    const s = await setup('printf "// faster\\n" >> src/sort.js && mkdir -p .ratchet && printf "\\n  append a faster path  \\n" > .ratchet/description');
    expect(await s.propose()).toEqual({ kind: 'change', description: 'append a faster path' });
    expect(git(s.repo, 'status', '--porcelain', '--untracked-files=all')).toBe('M src/sort.js');
    const prompt = await readFile(join(s.context.experimentDir, 'prompt.md'), 'utf8');
    expect(prompt).toContain("Make sort faster; don't touch the tests.");
    expect(prompt).toContain('write a one-line description of it (it becomes the commit message) to `.ratchet/description`');
    expect(await readFile(join(s.context.experimentDir, 'agent.log'), 'utf8')).toContain('exit 0');
  });

  it('passes the prompt shell-quoted as {prompt} and as a file {prompt_file} outside the worktree', async () => {
    // The agent can read the prompt file but write only in its worktree: the copies go there.
    const s = await setup('printf "%s" {prompt} > prompt.echo && cp {prompt_file} prompt.copy');
    await s.propose();
    const promptFile = join(s.context.experimentDir, 'prompt.md');
    const original = await readFile(promptFile, 'utf8');
    expect(await readFile(join(s.repo, 'prompt.echo'), 'utf8')).toBe(original);
    expect(await readFile(join(s.repo, 'prompt.copy'), 'utf8')).toBe(original);
    expect(git(s.repo, 'status', '--porcelain')).toBe('?? prompt.copy\n?? prompt.echo');
  });

  it('returns a change with an empty diff when the agent changed nothing, described by its last output line', async () => {
    const s = await setup('echo "looking around"; printf "\\033[32mnothing worth changing\\033[0m\\n\\n"');
    expect(await s.propose()).toEqual({ kind: 'change', description: 'nothing worth changing' });
    expect(git(s.repo, 'status', '--porcelain')).toBe('');
  });

  it('takes the description from its last commit and puts HEAD back so the work appears uncommitted', async () => {
    const commit = 'git -c user.name=a -c user.email=a@b -c commit.gpgsign=false commit -qm';
    const s = await setup(`printf "// one\\n" >> src/sort.js && git add -A && ${commit} "first try" && printf "// two\\n" >> src/sort.js && git add -A && ${commit} "unroll the inner loop" && echo done`);
    expect(await s.propose()).toEqual({ kind: 'change', description: 'unroll the inner loop' });
    expect(git(s.repo, 'rev-parse', 'HEAD')).toBe(s.head);
    expect(git(s.repo, 'diff', 'HEAD', '--stat')).toContain('src/sort.js');
    expect(await readFile(join(s.repo, 'src/sort.js'), 'utf8')).toMatch(/\/\/ one\n\/\/ two\n$/);
  });

  it('does not leave a committed description file in the change', async () => {
    const commit = 'git -c user.name=a -c user.email=a@b -c commit.gpgsign=false commit -qm';
    const s = await setup(`printf "// x\\n" >> src/sort.js && mkdir -p .ratchet && echo "from the file" > .ratchet/description && git add -A && ${commit} "from the commit"`);
    expect(await s.propose()).toEqual({ kind: 'change', description: 'from the file' });
    expect(git(s.repo, 'status', '--porcelain', '--untracked-files=all')).toBe('M  src/sort.js');
  });

  it('says it has nothing left to try with .ratchet/exhausted and its reason, which ends the run instead of a change', async () => {
    const s = await setup('printf "// half an idea\\n" >> src/sort.js && mkdir -p .ratchet && echo "every idea in the notes was tried" > "$RATCHET_EXHAUSTED_FILE"');
    expect(await s.propose()).toEqual({ kind: 'exhausted', reason: 'the agent has nothing left to try: every idea in the notes was tried' });
    await expect(stat(join(s.repo, '.ratchet'))).rejects.toThrow();
    const prompt = await readFile(join(s.context.experimentDir, 'prompt.md'), 'utf8');
    expect(prompt).toContain('write a one-line reason to `.ratchet/exhausted` and stop, and the run ends');
  });

  it('is exhausted also when the exhausted file is empty or the command then fails', async () => {
    const s = await setup('mkdir -p .ratchet && : > .ratchet/exhausted && exit 4');
    expect(await s.propose()).toEqual({ kind: 'exhausted', reason: 'the agent has nothing left to try: (.ratchet/exhausted gave no reason)' });
  });

  it('is a timeout when the command outlives agent.timeout, its process group killed', async () => {
    const s = await setup('sleep 3071', '1s');
    const started = Date.now();
    const outcome = await s.propose();
    expect(outcome).toMatchObject({ kind: 'failed', verdict: 'timeout', reason: 'agent command timed out after 1s' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await processesRunning('sleep 3071')).toEqual([]);
  });

  it('is a crash with the exit code and the tail of the output when the command fails', async () => {
    const s = await setup('echo "starting"; echo "error: no API key" >&2; exit 3');
    const outcome = await s.propose();
    expect(outcome).toMatchObject({ kind: 'failed', verdict: 'crash', reason: 'agent command exited with code 3: error: no API key' });
    expect(outcome.kind === 'failed' ? outcome.outputTail : '').toContain('starting');
  });

  it('throws AbortedError promptly when aborted', async () => {
    const s = await setup('sleep 30');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    await expect(s.propose(controller.signal)).rejects.toThrow(AbortedError);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(stat(join(s.repo, '.ratchet'))).rejects.toThrow();
  });

  it('expands placeholders once, so prompt text that looks like a placeholder stays text', () => {
    expect(expandCommand('agent -m {prompt} -f {prompt_file}', { prompt: "it's {prompt_file}", promptFile: '/x/p.md' })).toBe(
      "agent -m 'it'\\''s {prompt_file}' -f '/x/p.md'",
    );
    expect(lastLine('a\r\nlast one  \n\n')).toBe('last one');
  });
});
