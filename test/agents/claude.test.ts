import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { NO_REDACTION } from '../../src/util/redact.js';
import { ClaudeProposer, type ClaudeAgentSpec } from '../../src/agents/claude/index.js';
import { AbortedError, UserError } from '../../src/domain/errors.js';
import type { HistoryRow, ProposalContext, ProposalOutcome } from '../../src/domain/proposal.js';
import { specSchema, type SpecInput } from '../../src/domain/spec.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';
import { processesRunning } from '../helpers/procs.js';
import { failWith, reply, startMessagesServer, text, toolResults, toolUse, type MessagesServer, type RecordedRequest, type Step } from '../helpers/messages-server.js';

const SORT = 'export function sort(a) {\n  return a.slice().sort((x, y) => x - y);\n}\n';
const FILES = {
  'src/sort.js': SORT,
  'test/sort.test.js': "import { sort } from '../src/sort.js';\nif (sort([2, 1])[0] !== 1) process.exit(1);\n",
  'bench/run.js': "console.log('METRIC ops=100');\n",
  'README.md': '# demo\n',
};

const cleanups: (() => Promise<void>)[] = [];
let server: MessagesServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function makeSpec(agent: Partial<ClaudeAgentSpec> = {}, extra: Partial<SpecInput> = {}) {
  return specSchema.parse({
    objective: 'Make sort faster.',
    editable: ['src/**'],
    protected: ['test/**', 'bench/**'],
    bench: { run: 'node bench/run.js', metric: { name: 'ops', goal: 'maximize' } },
    checks: [{ name: 'test', run: 'node test/sort.test.js' }],
    agent: { kind: 'claude', max_retries: 2, ...agent },
    ...extra,
  });
}

async function setup(script: Step[], agent: Partial<ClaudeAgentSpec> = {}, extra: Partial<SpecInput> = {}) {
  const repo = await gitdir(FILES);
  const runDir = await tempDir('ratchet-exp-');
  cleanups.push(repo.cleanup, runDir.cleanup);
  server = await startMessagesServer(script);
  const spec = makeSpec(agent, extra);
  const history: HistoryRow[] = [
    { experiment: 'e0000', verdict: 'keep', metric: 100, description: 'baseline', reason: 'baseline' },
    { experiment: 'e0001', verdict: 'checks_failed', metric: undefined, description: 'use a radix sort', reason: 'check test failed' },
  ];
  const context: ProposalContext = {
    runId: '2026-11-21-sort-a1b2',
    experiment: 'e0002',
    worktree: repo.path,
    parentCommit: git(repo.path, 'rev-parse', 'HEAD'),
    spec,
    objective: spec.objective,
    history,
    best: { experiment: 'e0000', metric: 100, commit: git(repo.path, 'rev-parse', 'HEAD') },
    lastFailure: { experiment: 'e0001', verdict: 'checks_failed', reason: 'check test failed', outputTail: 'AssertionError: expected [1, 2]\n    at test/sort.test.js:2' },
    experimentDir: runDir.path,
    gitDir: join(repo.path, '.git'),
  };
  const proposer = new ClaudeProposer(spec.agent as ClaudeAgentSpec, {
    baseURL: server.url,
    env: { ANTHROPIC_API_KEY: 'test-key', PATH: process.env['PATH'] },
    retry: { baseDelayMs: 1, maxDelayMs: 50 },
    runner: new ExecaCommandRunner(),
    redactor: NO_REDACTION,
  });
  return { repo: repo.path, runDir: runDir.path, context, proposer, server };
}

async function propose(s: Awaited<ReturnType<typeof setup>>, signal = new AbortController().signal): Promise<ProposalOutcome> {
  return await s.proposer.propose(s.context, signal);
}

async function transcript(runDir: string): Promise<{ type: string; [k: string]: unknown }[]> {
  const lines = (await readFile(join(runDir, 'agent.jsonl'), 'utf8')).trim().split('\n');
  return lines.map((l) => JSON.parse(l) as { type: string });
}

const goodEdit = toolUse('edit_file', { path: 'src/sort.js', old_string: '(x, y) => x - y', new_string: 'compare' });
const finish = toolUse('finish', { description: 'use a named comparator', hypothesis: 'a shared function is inlined better' });

function result(request: RecordedRequest, i = 0) {
  const r = toolResults(request)[i];
  expect(r, `tool result ${i} of request ${request.index}`).toBeDefined();
  return { content: String(r!.content), isError: r!.is_error === true };
}

describe('claude agent', () => {
  it('completes a proposal through list, read, edit and finish, changing the worktree', async () => {
    const s = await setup([
      reply([toolUse('list_files', {})]),
      reply([toolUse('read_file', { path: 'src/sort.js' })], {
        expect: (r) => {
          const listed = result(r).content;
          expect(listed).toContain('src/sort.js');
          expect(listed).toContain('test/sort.test.js  (protected)');
          expect(listed).toContain('README.md  (not editable)');
        },
      }),
      reply([text('The comparator can be shared.'), goodEdit], {
        expect: (r) => expect(result(r).content).toContain('     2\t  return a.slice().sort((x, y) => x - y);'),
      }),
      reply([finish], { expect: (r) => expect(result(r)).toEqual({ content: expect.stringContaining('Edited src/sort.js') as string, isError: false }) }),
    ]);
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome).toMatchObject({ kind: 'change', description: 'use a named comparator', hypothesis: 'a shared function is inlined better' });
    expect(await readFile(join(s.repo, 'src/sort.js'), 'utf8')).toContain('.sort(compare)');
    expect(git(s.repo, 'status', '--porcelain')).toBe('M src/sort.js');
    expect(s.server.requests.every((r) => r.stream)).toBe(true);
    expect(s.server.requests[0]!.headers['authorization']).toBe('Bearer test-key');
    const types = (await transcript(s.runDir)).map((l) => l.type);
    expect(types.slice(0, 4)).toEqual(['prompt', 'request', 'response', 'tool_result']);
    expect(types.at(-1)).toBe('outcome');
  });

  it('searches with git grep, reads line ranges and creates files', async () => {
    const s = await setup([
      reply([toolUse('search', { pattern: 'sort\\(' }), toolUse('search', { pattern: '(' }), toolUse('search', { pattern: 'zebra' })]),
      reply([toolUse('read_file', { path: 'src/sort.js', start_line: 2, end_line: 2 }), toolUse('write_file', { path: 'src/util/compare.js', content: 'export const compare = (x, y) => x - y;\n' })], {
        expect: (r) => {
          expect(result(r, 0).content.split('\n')).toEqual([
            'src/sort.js:1:export function sort(a) {',
            'src/sort.js:2:  return a.slice().sort((x, y) => x - y);',
            'test/sort.test.js:2:if (sort([2, 1])[0] !== 1) process.exit(1);',
          ]);
          expect(result(r, 1)).toEqual({ isError: true, content: expect.stringContaining('search failed') as string });
          expect(result(r, 2)).toEqual({ isError: false, content: 'No matches.' });
        },
      }),
      reply([finish], {
        expect: (r) => {
          expect(result(r, 0).content).toBe('src/sort.js (lines 2-2 of 3)\n     2\t  return a.slice().sort((x, y) => x - y);\n… more below: read with start_line 3');
          expect(result(r, 1).content).toBe('Created src/util/compare.js (1 lines).');
        },
      }),
    ]);
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    expect(git(s.repo, 'status', '--porcelain', '--untracked-files=all')).toBe('?? src/util/compare.js');
  });

  it('works the same with plain (non-streamed) responses', async () => {
    const s = await setup([reply([goodEdit]), reply([finish], { expect: (r) => !result(r).isError })], { stream: false });
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    expect(s.server.requests.map((r) => r.stream)).toEqual([false, false]);
  });

  it('refuses edits to protected, non-editable and outside paths with messages the model can act on', async () => {
    const s = await setup([
      reply([
        toolUse('edit_file', { path: 'test/sort.test.js', old_string: 'exit(1)', new_string: 'exit(0)' }),
        toolUse('write_file', { path: 'README.md', content: 'x' }),
        toolUse('write_file', { path: '../escape.js', content: 'x' }),
        toolUse('write_file', { path: '/tmp/abs.js', content: 'x' }),
        toolUse('write_file', { path: '.git/hooks/pre-commit', content: 'x' }),
      ]),
      reply([goodEdit, finish], {
        expect: (r) => {
          const results = toolResults(r);
          expect(results.map((x) => x.is_error)).toEqual([true, true, true, true, true]);
          expect(String(results[0]!.content)).toMatch(/^Refused: test\/sort\.test\.js is protected/);
          expect(String(results[1]!.content)).toContain('README.md is not editable (editable: src/**)');
          expect(String(results[2]!.content)).toContain('".."');
          expect(String(results[3]!.content)).toContain('is absolute');
          expect(String(results[4]!.content)).toContain('inside .git');
        },
      }),
    ]);
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    expect(await readFile(join(s.repo, 'test/sort.test.js'), 'utf8')).toBe(FILES['test/sort.test.js']);
    expect(git(s.repo, 'status', '--porcelain')).toBe('M src/sort.js');
  });

  it('refuses writes through symlinks that lead to protected files or out of the worktree', async () => {
    const outside = await tempDir('ratchet-outside-');
    cleanups.push(outside.cleanup);
    const s = await setup([
      reply([toolUse('write_file', { path: 'src/link.js', content: 'x' }), toolUse('write_file', { path: 'src/out/x.js', content: 'x' })]),
      reply([goodEdit, finish], {
        expect: (r) => {
          expect(result(r, 0)).toEqual({ isError: true, content: expect.stringContaining('src/link.js links to test/sort.test.js') as string });
          expect(result(r, 1)).toEqual({ isError: true, content: expect.stringContaining('leads outside the repository') as string });
        },
      }),
    ]);
    await symlink('../test/sort.test.js', join(s.repo, 'src/link.js'));
    await symlink(outside.path, join(s.repo, 'src/out'));
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    expect(await readFile(join(s.repo, 'test/sort.test.js'), 'utf8')).toBe(FILES['test/sort.test.js']);
  });

  it('answers malformed and unknown tool calls with error results and carries on', async () => {
    const s = await setup([
      reply([toolUse('edit_file', { path: 42, old_string: 'a' }), toolUse('delete_everything', {}), toolUse('finish', { description: 'x' })]),
      reply([toolUse('edit_file', { path: 'src/sort.js', old_string: 'nowhere to be found', new_string: 'x' })], {
        expect: (r) => {
          expect(result(r, 0)).toEqual({ isError: true, content: expect.stringMatching(/^Invalid input for edit_file:[\s\S]*path/) as string });
          expect(result(r, 1)).toEqual({ isError: true, content: expect.stringContaining('Unknown tool "delete_everything"') as string });
          expect(result(r, 2)).toEqual({ isError: true, content: expect.stringContaining('hypothesis') as string });
        },
      }),
      reply([toolUse('edit_file', { path: 'src/sort.js', old_string: 'a', new_string: 'b' })], {
        expect: (r) => expect(result(r).content).toContain('was not found in src/sort.js'),
      }),
      reply([goodEdit, finish], { expect: (r) => expect(result(r).content).toMatch(/occurs \d+ times in src\/sort\.js/) }),
    ]);
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome).toMatchObject({ kind: 'change', description: 'use a named comparator' });
  });

  it('refuses a finish with no change once, and a finish beside a failed call', async () => {
    const s = await setup([
      reply([finish]),
      reply([toolUse('edit_file', { path: 'test/sort.test.js', old_string: 'a', new_string: 'b' }), finish], {
        expect: (r) => expect(result(r)).toEqual({ isError: true, content: expect.stringContaining('the working tree has no changes') as string }),
      }),
      reply([goodEdit, finish], {
        expect: (r) => expect(result(r, 1)).toEqual({ isError: true, content: expect.stringContaining('another tool call of this turn failed') as string }),
      }),
    ]);
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
  });

  it('forces finish on the last turn, and crashes when the model still does not finish', async () => {
    const s = await setup(
      [
        reply([goodEdit], { expect: (r) => r.body.tool_choice === undefined }),
        reply([text('Still thinking.')], {
          expect: (r) => {
            expect(r.body.tool_choice).toEqual({ type: 'tool', name: 'finish' });
            const last = r.body.messages.at(-1)!.content;
            expect(JSON.stringify(last)).toContain('This is your last turn: call finish now.');
          },
        }),
      ],
      { max_turns: 2 },
    );
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome).toMatchObject({ kind: 'failed', verdict: 'crash', reason: 'no finish after 2 turns' });
  });

  it('runs commands in the worktree without the API key, even when the spec allows ANTHROPIC_*', async () => {
    const s = await setup(
      [
        reply([toolUse('run_command', { command: 'echo "key=${ANTHROPIC_API_KEY:-none} dir=$(basename $PWD)"; exit 3' })]),
        reply([goodEdit, finish], {
          expect: (r) => {
            const { content, isError } = result(r);
            expect(isError).toBe(true);
            expect(content).toMatch(/^exit code 3 after/);
            expect(content).toContain('key=none');
          },
        }),
      ],
      {},
      { env: ['ANTHROPIC_*'] },
    );
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    expect(await readFile(join(s.runDir, 'agent-commands.log'), 'utf8')).toContain('key=none');
  });

  it('retries 429, 529, 5xx and a stream error with backoff, honouring retry-after, then succeeds', async () => {
    const s = await setup(
      [
        failWith(429, { headers: { 'retry-after-ms': '25' } }),
        failWith(529),
        failWith(503),
        failWith(529, { inStream: true, message: 'Overloaded' }),
        reply([goodEdit, finish]),
      ],
      { max_retries: 6 },
    );
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome.kind).toBe('change');
    const retries = (await transcript(s.runDir)).filter((l) => l.type === 'retry');
    expect(retries.map((r) => r['status'])).toEqual([429, 529, 503, 529]);
    expect(retries[0]!['delayMs']).toBe(25);
  });

  it('ends as a crash, not an exception, when the retries run out', async () => {
    const s = await setup([failWith(529), failWith(529), failWith(529)], { max_retries: 2 });
    const outcome = await propose(s);
    s.server.assertDone();
    expect(outcome).toEqual({ kind: 'failed', verdict: 'crash', reason: 'Anthropic API: overloaded (529) after 2 retries', usage: expect.objectContaining({ costUsd: 0 }) as unknown });
  });

  it('does not retry a bad request, and throws a UserError for rejected credentials', async () => {
    const bad = await setup([failWith(400, { message: 'prompt is too long' })]);
    expect(await propose(bad)).toMatchObject({ kind: 'failed', verdict: 'crash', reason: 'Anthropic API: bad request (400): prompt is too long' });
    bad.server.assertDone();
    await server!.close();
    const denied = await setup([failWith(401, { message: 'invalid x-api-key' })]);
    await expect(propose(denied)).rejects.toThrow(UserError);
    denied.server.assertDone();
  });

  it('sums usage and cost over the calls of a proposal, at the spec price when given', async () => {
    const usage = { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 5000, cache_creation_input_tokens: 3000 };
    const script = (): Step[] => [reply([toolUse('list_files', {})], { usage }), reply([goodEdit], { usage }), reply([finish], { usage })];
    const listed = await setup(script(), { model: 'claude-sonnet-4-6' });
    const outcome = await propose(listed);
    listed.server.assertDone();
    // Three calls at $3 / $15 / $0.30 / $3.75 per million.
    const perCall = (1000 * 3 + 200 * 15 + 5000 * 0.3 + 3000 * 3.75) / 1e6;
    expect(outcome.kind === 'change' ? outcome.usage : undefined).toEqual({
      inputTokens: 3000,
      outputTokens: 600,
      cacheReadTokens: 15000,
      cacheWriteTokens: 9000,
      costUsd: expect.closeTo(3 * perCall, 10) as number,
    });
    await server!.close();
    const priced = await setup(script(), { model: 'my-local-model', prices: { 'my-local': { input: 1, output: 2 } } });
    const own = await propose(priced);
    const ownPerCall = (1000 * 1 + 200 * 2 + 5000 * 0.1 + 3000 * 1.25) / 1e6;
    expect(own.kind === 'change' ? own.usage?.costUsd : undefined).toBeCloseTo(3 * ownPerCall, 10);
  });

  it('sends the objective, history and failure tail, with cache breakpoints on the stable prefix', async () => {
    const s = await setup([reply([goodEdit]), reply([finish])]);
    await propose(s);
    s.server.assertDone();
    const [first, second] = s.server.requests as [RecordedRequest, RecordedRequest];
    const system = first.body.system as { text: string; cache_control?: unknown }[];
    expect(system[0]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(system[0]!.text).toContain('Make ONE focused change');
    expect(first.body.tools!.at(-1)!.cache_control).toEqual({ type: 'ephemeral' });
    expect(first.body.tools!.map((t) => t.name)).toEqual(['list_files', 'read_file', 'search', 'edit_file', 'write_file', 'run_command', 'finish']);
    const [stable, volatile] = first.body.messages[0]!.content as { text: string; cache_control?: unknown }[];
    expect(stable!.cache_control).toEqual({ type: 'ephemeral' });
    expect(stable!.text).toContain('Make sort faster.');
    expect(stable!.text).toContain('`ops`, to maximize');
    expect(stable!.text).toContain('Protected (never change): `test/**`, `bench/**`');
    expect(stable!.text).toContain('- src/sort.js');
    expect(stable!.text).not.toContain('- test/sort.test.js');
    expect(volatile!.text).toContain('| e0001 | checks_failed | - | use a radix sort | check test failed |');
    expect(volatile!.text).toContain('AssertionError: expected [1, 2]');
    expect(volatile!.text).toContain('This is experiment e0002');
    // The second turn moves the last breakpoint to the newest block and keeps the stable one: four in all.
    const blocks = second.body.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content));
    expect(blocks.filter((b) => b.cache_control !== undefined)).toHaveLength(2);
    expect(blocks.at(-1)!.cache_control).toEqual({ type: 'ephemeral' });
    expect(blocks[0]!.cache_control).toEqual({ type: 'ephemeral' });
    expect(second.body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  describe('abort', () => {
    async function waitForPid(path: string): Promise<number> {
      for (let i = 0; i < 200; i += 1) {
        const pid = Number(await readFile(path, 'utf8').catch(() => '0'));
        if (pid > 0) return pid;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`${path} never appeared`);
    }

    it('stops at once while a request is in flight', async () => {
      const controller = new AbortController();
      let abortedAt = 0;
      const abort = (): void => {
        abortedAt = Date.now();
        controller.abort();
      };
      // Abort once the request has reached the server, however long the set-up took.
      const s = await setup([{ hang: true, expect: () => void setTimeout(abort, 20) }]);
      await expect(propose(s, controller.signal)).rejects.toThrow(AbortedError);
      expect(abortedAt).toBeGreaterThan(0);
      expect(Date.now() - abortedAt).toBeLessThan(1_000);
      s.server.assertDone();
    });

    it('kills a running command and stops', async () => {
      const s = await setup([reply([toolUse('run_command', { command: 'echo $$ > .cmd.pid.tmp && mv .cmd.pid.tmp .cmd.pid; exec sleep 3072' })])]);
      const controller = new AbortController();
      const proposal = propose(s, controller.signal);
      await waitForPid(join(s.repo, '.cmd.pid'));
      const aborted = Date.now();
      controller.abort();
      await expect(proposal).rejects.toThrow(AbortedError);
      expect(Date.now() - aborted).toBeLessThan(3_000);
      expect(await processesRunning('sleep 3072')).toEqual([]);
      s.server.assertDone();
    });
  });
});
