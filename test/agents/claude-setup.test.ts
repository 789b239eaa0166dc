import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { NO_REDACTION } from '../../src/util/redact.js';
import { ExecaCommandRunner } from '../../src/proc/run-command.js';
import { checkClaudeReady, ClaudeProposer, costUsd, estimateNextCostUsd, priceFor, type ClaudeAgentSpec } from '../../src/agents/claude/index.js';
import { retryAfterMs, retryDelayMs } from '../../src/agents/claude/retry.js';
import { UserError } from '../../src/domain/errors.js';
import type { Usage } from '../../src/domain/words.js';
import { specSchema } from '../../src/domain/spec.js';
import { git, gitdir, tempDir } from '../helpers/gitdir.js';
import { reply, startMessagesServer, toolUse, type MessagesServer } from '../helpers/messages-server.js';

function spec(agent: Record<string, unknown> = {}, budget: Record<string, unknown> = {}) {
  return specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'm', goal: 'minimize' } }, budget, agent: { kind: 'claude', ...agent } });
}

describe('checkClaudeReady', () => {
  it('fails before the run with a clear UserError when there is no key and no base URL', () => {
    expect(() => checkClaudeReady(spec(), {})).toThrow(UserError);
    expect(() => checkClaudeReady(spec(), { ANTHROPIC_API_KEY: '  ' })).toThrow(/ANTHROPIC_API_KEY is not set/);
  });

  it('accepts an API key, an auth token, or a base URL server without a key', () => {
    expect(checkClaudeReady(spec(), { ANTHROPIC_API_KEY: 'k' })).toEqual({ warnings: [] });
    expect(checkClaudeReady(spec(), { ANTHROPIC_AUTH_TOKEN: 't' })).toEqual({ warnings: [] });
    expect(checkClaudeReady(spec(), { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080' })).toEqual({ warnings: [] });
    expect(checkClaudeReady(spec({ base_url: 'http://127.0.0.1:8080' }), {})).toEqual({ warnings: [] });
  });

  it('rejects a malformed ANTHROPIC_BASE_URL', () => {
    expect(() => checkClaudeReady(spec(), { ANTHROPIC_BASE_URL: 'localhost port 8080' })).toThrow(/not a URL/);
  });

  it('warns when a USD budget meets a model without a price', () => {
    const { warnings } = checkClaudeReady(spec({ model: 'qwen3-coder', base_url: 'http://127.0.0.1:1' }, { usd: 5 }), {});
    expect(warnings).toEqual([expect.stringContaining('no price is known for model qwen3-coder')]);
    expect(checkClaudeReady(spec({ model: 'qwen3-coder', base_url: 'http://127.0.0.1:1', prices: { qwen3: { input: 0, output: 0 } } }, { usd: 5 }), {}).warnings).toEqual([]);
  });

  it('ignores other agents', () => {
    const replay = specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'm', goal: 'minimize' } } });
    expect(checkClaudeReady(replay, {})).toEqual({ warnings: [] });
  });
});

describe('a base URL server without a key', () => {
  let server: MessagesServer | undefined;
  afterEach(async () => server?.close());

  it('is sent a placeholder key, and ANTHROPIC_BASE_URL from the given environment is used', async () => {
    const repo = await gitdir({ 'a.txt': 'a\n' });
    const runDir = await tempDir();
    try {
      server = await startMessagesServer([reply([toolUse('write_file', { path: 'a.txt', content: 'b\n' }), toolUse('finish', { description: 'd', hypothesis: 'h' })])]);
      const s = spec({ stream: false });
      const head = git(repo.path, 'rev-parse', 'HEAD');
      const proposer = new ClaudeProposer(s.agent as ClaudeAgentSpec, { env: { ANTHROPIC_BASE_URL: server.url }, runner: new ExecaCommandRunner(), redactor: NO_REDACTION });
      const outcome = await proposer.propose(
        { runId: 'r', experiment: 'e0001', worktree: repo.path, parentCommit: head, spec: s, objective: 'x', history: [], best: { experiment: 'e0000', metric: 1, commit: head }, lastFailure: undefined, experimentDir: runDir.path, gitDir: join(repo.path, '.git') },
        new AbortController().signal,
      );
      server.assertDone();
      expect(outcome.kind).toBe('change');
      expect(server.requests[0]!.headers['authorization']).toBe('Bearer ratchet-no-key');
    } finally {
      await repo.cleanup();
      await runDir.cleanup();
    }
  });
});

describe('pricing', () => {
  it('prices a model by its longest known id prefix, the spec overriding the table', () => {
    expect(priceFor('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(priceFor('claude-opus-4-20250514')?.input).toBe(15);
    expect(priceFor('claude-opus-4-5')?.input).toBe(5);
    expect(priceFor('claude-sonnet-4-5-20250929')).toEqual({ input: 3, output: 15 });
    expect(priceFor('claude-haiku-4-5')?.output).toBe(5);
    expect(priceFor('claude-fable-5-1')?.cache_read).toBe(0.25);
    expect(priceFor('llama-3.3-70b')).toBeUndefined();
    expect(priceFor('claude-sonnet-4-5', { 'claude-sonnet': { input: 1, output: 1 } })).toEqual({ input: 1, output: 1 });
  });

  it('charges cache reads at a tenth and cache writes at 1.25 times the input price unless given', () => {
    const usage = { inputTokens: 1e6, outputTokens: 1e6, cacheReadTokens: 1e6, cacheWriteTokens: 1e6 };
    expect(costUsd(usage, { input: 3, output: 15 })).toBeCloseTo(3 + 15 + 0.3 + 3.75, 10);
    expect(costUsd(usage, { input: 3, output: 15, cache_read: 1, cache_write: 2 })).toBeCloseTo(21, 10);
  });

  it('estimates the next proposal as the mean of the recent ones that cost anything', () => {
    const u = (costUsd: number): Usage => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd });
    expect(estimateNextCostUsd([])).toBe(0);
    expect(estimateNextCostUsd([u(0.1), undefined, u(0), u(0.3)])).toBeCloseTo(0.2, 10);
    expect(estimateNextCostUsd([u(100), ...Array.from({ length: 10 }, () => u(1))])).toBe(1);
  });
});

describe('retry timing', () => {
  it('reads retry-after-ms, retry-after in seconds and as a date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped, and prefers the server within the cap', () => {
    const policy = { maxRetries: 6, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(retryDelayMs(0, { ...policy, random: () => 0 }, undefined)).toBe(50);
    expect(retryDelayMs(2, { ...policy, random: () => 0.999999 }, undefined)).toBe(400);
    expect(retryDelayMs(9, { ...policy, random: () => 0.999999 }, undefined)).toBe(1_000);
    expect(retryDelayMs(0, policy, 300)).toBe(300);
    expect(retryDelayMs(0, policy, 60_000)).toBe(1_000);
  });
});
