import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRun, type RunOutcome } from '../../src/app/run.js';
import { parseResultsTsv } from '../../src/store/results-tsv.js';
import { git, tempDir } from '../helpers/gitdir.js';
import { reply, startMessagesServer, toolUse, type MessagesServer } from '../helpers/messages-server.js';
import { testRedisSocket } from '../helpers/redis.js';
import { makeTarget } from '../helpers/target.js';

// 100 000 input tokens at the default model's $3 per million: $0.30 a proposal.
const USAGE = { input_tokens: 100_000, output_tokens: 0 };

function proposal(value: string, description: string) {
  return [
    reply([toolUse('read_file', { path: 'value.txt' })], { usage: USAGE }),
    reply([toolUse('write_file', { path: 'value.txt', content: `${value}\n` })], { usage: { input_tokens: 0, output_tokens: 0 } }),
    reply([toolUse('finish', { description, hypothesis: 'a lower value is a lower score' })], { usage: { input_tokens: 0, output_tokens: 0 } }),
  ];
}

describe('a run with the claude agent against a Messages API server', () => {
  let server: MessagesServer;
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let outcome: RunOutcome;

  beforeAll(async () => {
    server = await startMessagesServer([...proposal('7', 'lower the value to 7'), ...proposal('9', 'raise the value to 9')]);
    target = await makeTarget({
      'ratchet.yaml': [
        'objective: make the score lower',
        'editable: ["value.txt"]',
        'protected: ["bench.sh", "ratchet.yaml"]',
        // Setup runs before the agent; what it creates must not become part of the change.
        'setup: "mkdir -p build && echo artefact > build/out.txt && ln -sf value.txt link.txt"',
        'bench: { run: sh bench.sh, metric: { name: score, goal: minimize } }',
        'budget: { usd: 0.7 }',
        `agent: { kind: claude, base_url: "${server.url}", max_retries: 0 }`,
        '',
      ].join('\n'),
    });
    work = await tempDir();
    outcome = await startRun({
      repo: target.path,
      flags: {},
      experimentsRoot: join(work.path, 'experiments'),
      runId: 'claude-budget',
      redis: `redis+unix://${testRedisSocket()}`,
      signal: new AbortController().signal,
    });
  }, 120_000);

  afterAll(async () => {
    await server.close();
    await target.cleanup();
    await work.cleanup();
  });

  it('makes every scripted request and no other', () => {
    server.assertDone();
  });

  it('stops before the next proposal would pass budget.usd', () => {
    expect(outcome.stop).toMatchObject({ reason: 'budget' });
    expect(outcome.stop.detail).toMatch(/\$0\.60 spent/);
    expect(outcome.summary.experiments).toBe(2);
    expect(outcome.summary.costUsd).toBeCloseTo(0.6);
  });

  it('keeps the improvement and records its cost', async () => {
    const rows = parseResultsTsv(await readFile(join(outcome.summary.runDir, 'results.tsv'), 'utf8'));
    expect(rows.map((r) => [r.experiment, r.status, r.description])).toEqual([
      ['e0000', 'keep', 'baseline'],
      ['e0001', 'keep', 'lower the value to 7'],
      ['e0002', 'discard', 'raise the value to 9'],
    ]);
    expect(Number(rows[1]!.cost_usd)).toBeCloseTo(0.3);
    expect(rows[1]!.input_tokens).toBe('100000');
  });

  it('commits only what the agent changed, not what setup made', () => {
    const files = git(target.path, 'show', '--name-only', '--format=', 'refs/heads/ratchet/claude-budget/e0001');
    expect(files.split('\n')).toEqual(['value.txt']);
  });

  it('writes the transcript of each proposal', async () => {
    const transcript = await readFile(join(outcome.summary.runDir, 'e0001', 'agent.jsonl'), 'utf8');
    expect(transcript).toContain('lower the value to 7');
  });
});
