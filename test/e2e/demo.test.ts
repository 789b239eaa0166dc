import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvents } from '../../src/domain/events.js';
import { tempDir } from '../helpers/gitdir.js';
import { runCli } from '../helpers/cli.js';
import { git } from '../helpers/gitdir.js';

describe('ratchet demo', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('tunes the tiny-lm target with its own Redis and shows the results and what to do next', async () => {
    const work = await tempDir();
    cleanups.push(work.cleanup);
    // A short training budget keeps the test quick; the search and the loop are the real ones.
    const result = await runCli(['demo', '--max-experiments', '3', '--experiments', join(work.path, 'experiments')], {
      env: { TINY_LM_STEPS: '40', REDIS_URL: '' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('stopped (budget): 3 of 3 experiments done (budget.experiments)');
    expect(result.stdout).toMatch(/e0000\s+keep\s+\d/);
    expect(result.stdout).toMatch(/e0001\s+(keep|discard)\s+\d.*LEARNING_RATE/);
    // The table reads `NAME old → new`; the search state is a field of its own, not in the text.
    expect(result.stdout).toMatch(/^e0001\s+(keep|discard)\s+\S+\s+\S+\s+[0-9a-f]{7}\s+\d+\s+LEARNING_RATE \S+ → \S+$/m);
    expect(result.stdout).not.toContain('[tune');
    expect(result.stdout).toContain('ratchet pick');
    const repo = /the kept changes as a branch of (\S+)/.exec(result.stdout)?.[1];
    expect(repo).toBeDefined();
    cleanups.push(async () => {
      const { rm } = await import('node:fs/promises');
      await rm(join(repo!, '..'), { recursive: true, force: true });
    });
    const runId = /run (\S+) stopped/.exec(result.stdout)?.[1];
    expect(git(repo!, 'rev-parse', '--verify', `ratchet/${runId}/best`)).toMatch(/^[0-9a-f]{40}$/);
    const { events } = parseEvents(await readFile(join(work.path, 'experiments', runId!, 'events.jsonl'), 'utf8'));
    const proposed = events.filter((e) => e.type === 'proposed' && e.exp !== 'e0000');
    expect(proposed).toHaveLength(3);
    for (const e of proposed) expect(e).toMatchObject({ agentState: { agent: 'tune', v: 1, params: expect.arrayContaining(['LEARNING_RATE']) } });
  }, 180_000);

  it('refuses a target that needs a model before copying anything, saying why and what to run instead', async () => {
    const work = await tempDir();
    const tmp = await tempDir();
    cleanups.push(work.cleanup, tmp.cleanup);
    const result = await runCli(['demo', 'circle-packing', '--experiments', join(work.path, 'experiments')], { env: { TMPDIR: tmp.path } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('the circle-packing target needs a model-driven agent (claude), and the demo runs without an API key or network; nothing was copied');
    expect(result.stderr).toContain('ratchet init --from circle-packing DIR, then ANTHROPIC_API_KEY=… ratchet run DIR');
    expect(result.stderr).toContain('demos that need no key: ratchet demo sort-speed, ratchet demo tiny-lm');
    // tsx keeps its cache there too; no ratchet-demo-* copy may be.
    expect((await readdir(tmp.path)).filter((name) => name.startsWith('ratchet'))).toEqual([]);
    expect(await readdir(join(work.path, 'experiments')).catch(() => [])).toEqual([]);
  }, 60_000);
});
