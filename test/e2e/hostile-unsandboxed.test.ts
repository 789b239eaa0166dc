/**
 * The rows of issue 9's threat table that must hold without a sandbox (`sandbox: none`):
 * ratchet's own checks contain them. One run through the CLI with a fake API key in its
 * environment; it is killed while a candidate has deleted its `.git` link, and resumed.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showRun } from '../../src/app/inspect.js';
import { parseEvents, type EventOf, type RunEvent } from '../../src/domain/events.js';
import { runCli, spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { git, tempDir } from '../helpers/gitdir.js';
import {
  deleteGitLink,
  escapeChildren,
  exists,
  filesContaining,
  hostileModulePatch,
  makeHostileTarget,
  MOVE_REFS,
  porcelain,
  processesWith,
  readRatchetEnviron,
  writeOutside,
} from '../helpers/hostile.js';
import { replaceLinePatch, writePatches } from '../helpers/target.js';

const tag = randomBytes(4).toString('hex');
const RUN = `hostile-none-${tag}`;
const MARKER = `ratchet-hostile-${tag}`;
const API_KEY = `sk-ant-test-${randomBytes(16).toString('hex')}`;
const DB_PASSWORD = `hostile-db-password-${randomBytes(8).toString('hex')}`;
const n = 5000 + (randomBytes(2).readUInt16BE() % 1000);
const SLEEPS = [`${n}.11`, `${n}.22`, `${n}.33`] as const;

const WHAT = {
  refs: 'the bench moves main and the best branch and makes a branch',
  gain90: 'lower the cost to 90',
  linkChecks: 'checks delete the .git link',
  linkBench: 'the bench deletes the .git link',
  checkout: "write into the user's checkout",
  environ: "read ratchet's environment",
  children: 'leave children behind that hold stdout',
  gain50: 'lower the cost to 50',
};

describe('hostile candidates without a sandbox', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let experiments: string;
  let runFolder: string;
  let mainBefore: string;
  let first: CliResult;
  let resumed: CliResult;
  let events: RunEvent[];
  const env = { REDIS_URL: '', ANTHROPIC_API_KEY: API_KEY, HOSTILE_DB_PASSWORD: DB_PASSWORD };

  const finished = (description: string): EventOf<'experiment_finished'> => {
    const found = events.filter((e): e is EventOf<'experiment_finished'> => e.type === 'experiment_finished' && e.description === description).at(-1);
    if (found === undefined) throw new Error(`no experiment finished for "${description}"`);
    return found;
  };
  const log = (description: string, stage: 'checks' | 'bench'): Promise<string> => readFile(join(runFolder, finished(description).exp, `${stage}.log`), 'utf8');

  beforeAll(async () => {
    target = await makeHostileTarget('none');
    mainBefore = git(target.path, 'rev-parse', 'refs/heads/main');
    work = await tempDir();
    const patches = join(work.path, 'patches');
    await writePatches(patches, {
      '01.patch': hostileModulePatch('refs', WHAT.refs, MOVE_REFS),
      '02.patch': replaceLinePatch('cost.txt', '100', '90', WHAT.gain90),
      // e0003 waits with its link deleted; the test kills ratchet then, and resumes.
      '03.patch': hostileModulePatch('link', WHAT.linkChecks, deleteGitLink(['checks'], 'e0003')),
      '04.patch': hostileModulePatch('link', WHAT.linkBench, deleteGitLink(['bench'])),
      '05.patch': hostileModulePatch('checkout', WHAT.checkout, writeOutside(MARKER, undefined, false)),
      '06.patch': hostileModulePatch('environ', WHAT.environ, readRatchetEnviron(['ANTHROPIC_API_KEY', 'HOSTILE_DB_PASSWORD', 'RATCHET_KEY'], false)),
      '07.patch': hostileModulePatch('children', WHAT.children, escapeChildren(SLEEPS)),
      '08.patch': replaceLinePatch('cost.txt', '90', '50', WHAT.gain50),
    });
    experiments = join(work.path, 'experiments');
    runFolder = join(experiments, RUN);
    const args = ['--experiments', experiments];
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', patches, '--run-id', RUN, ...args], { env });
    await waitFor(async () => (await readFile(join(runFolder, 'e0003', 'checks.log'), 'utf8').catch(() => '')).includes('hostile-git-deleted'), 90_000, 'the candidate to delete its .git link');
    cli.child.kill('SIGKILL');
    first = await cli.done;
    resumed = await runCli(['resume', RUN, ...args], { env });
    events = parseEvents(await readFile(join(runFolder, 'events.jsonl'), 'utf8')).events;
  }, 180_000);

  afterAll(async () => {
    await target.cleanup();
    await work.cleanup();
  });

  it('resumes the killed run and finishes it', () => {
    expect(first.signal).toBe('SIGKILL');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('internal error');
  });

  it('puts back the branches the bench moved and made, and rejects the candidate', async () => {
    const e = finished(WHAT.refs);
    expect(e.verdict).toBe('rejected');
    expect(e.reason).toContain('refs/heads/main');
    expect(e.reason).toContain('hostile-branch');
    expect(e.reason).toContain(`ratchet/${RUN}/best`);
    const bench = await log(WHAT.refs, 'bench');
    for (const what of ['move refs/heads/main', 'move the best branch', 'create a branch']) expect(bench).toContain(`[hostile] ${what}: done`);
    expect(git(target.path, 'rev-parse', 'refs/heads/main')).toBe(mainBefore);
    expect(git(target.path, 'branch', '--list', 'hostile-branch')).toBe('');
    expect(finished(WHAT.gain90)).toMatchObject({ verdict: 'keep', metric: 90 });
  });

  it('rejects a candidate that deletes its .git link, repairs it, and resumes past it when ratchet was killed meanwhile', async () => {
    expect(events.find((e) => e.type === 'experiment_cancelled')).toMatchObject({ exp: 'e0003' });
    const checks = finished(WHAT.linkChecks);
    expect(checks.exp).not.toBe('e0003');
    expect(checks).toMatchObject({ verdict: 'rejected', reason: "deleted or corrupted its worktree's git link (.git) during checks" });
    expect(await log(WHAT.linkChecks, 'checks')).toContain('[hostile] delete .git: done');
    expect(finished(WHAT.linkBench)).toMatchObject({ verdict: 'rejected', reason: "deleted or corrupted its worktree's git link (.git) during bench" });
  });

  it("rejects a candidate that writes into the user's checkout and leaves the checkout clean", async () => {
    const checks = await log(WHAT.checkout, 'checks');
    expect(checks).toContain(`[hostile] the user checkout is ${target.path}`);
    const e = finished(WHAT.checkout);
    expect(e.verdict).toBe('rejected');
    // The in-process worker's own folder is in the run folder: the copy stays there, on the worker.
    const aside = join(runFolder, 'worker', 'logs', RUN, e.exp, 'checks-checkout');
    expect(e.reason).toBe(`wrote cost.txt, ${MARKER}-checkout in the user's checkout during checks (put back; a copy of what it left is in ${aside} on the worker)`);
    expect(await readFile(join(aside, 'cost.txt'), 'utf8')).toBe('1\n');
    expect(await exists(join(target.path, `${MARKER}-checkout`))).toBe(false);
    expect(await readFile(join(target.path, 'cost.txt'), 'utf8')).toBe('100\n');
    expect(porcelain(target.path)).toBe('');
  });

  it("redacts ratchet's secrets a candidate read from its /proc environ, everywhere in the run folder", async () => {
    const bench = await log(WHAT.environ, 'bench');
    expect(bench).toContain('ANTHROPIC_API_KEY=[redacted ANTHROPIC_API_KEY]');
    expect(bench).toContain('HOSTILE_DB_PASSWORD=[redacted HOSTILE_DB_PASSWORD]');
    const encoded = (line: string): string => Buffer.from(line).toString('base64');
    // The candidate printed its own environment's secrets base64: none reached it.
    const needles = [API_KEY, DB_PASSWORD, encoded(`ANTHROPIC_API_KEY=${API_KEY}`), encoded(`HOSTILE_DB_PASSWORD=${DB_PASSWORD}`)];
    expect(await filesContaining(runFolder, needles)).toEqual([]);
    for (const out of [first, resumed]) for (const needle of needles) expect(out.stdout + out.stderr).not.toContain(needle);
  });

  it('ends a bench whose children left the group and hold stdout soon after its timeout, and leaves none of them', async () => {
    const e = finished(WHAT.children);
    expect(e.verdict).toBe('timeout');
    expect(await log(WHAT.children, 'bench')).toContain('[hostile] hostile children started');
    const result = JSON.parse(await readFile(join(runFolder, e.exp, 'result.json'), 'utf8')) as { stages: { stage: string; durationS: number }[] };
    const bench = result.stages.find((s) => s.stage === 'bench');
    expect(bench?.durationS).toBeGreaterThanOrEqual(3);
    expect(bench?.durationS).toBeLessThan(8);
    for (const sleep of SLEEPS) expect(await processesWith(`sleep ${sleep}`), sleep).toEqual([]);
  });

  it('keeps the real gain after all of them, with show and the best branch agreeing', async () => {
    const gain = finished(WHAT.gain50);
    expect(gain).toMatchObject({ verdict: 'keep', metric: 50 });
    const table = await showRun(experiments, RUN);
    expect(table.summary.best).toMatchObject({ experiment: gain.exp, metric: 50, commit: gain.commit });
    expect(git(target.path, 'rev-parse', `refs/heads/ratchet/${RUN}/best`)).toBe(gain.commit);
    expect(table.rows.filter((r) => r.verdict === 'keep').map((r) => r.description)).toEqual(['baseline', WHAT.gain90, WHAT.gain50]);
  });
});
