/**
 * The threat table of issue 9, row by row, with the sandbox (`sandbox: auto`, which is
 * bubblewrap here): one run through the CLI with its private Redis and a fake API key in its
 * environment, a hostile candidate per row, a real gain in the middle and one at the end. The
 * run is killed while a candidate has deleted its `.git` link, and resumed.
 */
import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showRun } from '../../src/app/inspect.js';
import { parseEvents, type EventOf, type RunEvent } from '../../src/domain/events.js';
import { runCli, spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { git, tempDir } from '../helpers/gitdir.js';
import {
  connectTo,
  deleteGitLink,
  escapeChildren,
  exists,
  FAKE_BENCH,
  filesContaining,
  FORGE_RECORD,
  gitMadePatch,
  HOSTILE_FILES,
  hostileModulePatch,
  hugePatch,
  makeHostileTarget,
  MOVE_REFS,
  porcelain,
  processesWith,
  readRatchetEnviron,
  writeOutside,
} from '../helpers/hostile.js';
import { replaceLinePatch, writePatches } from '../helpers/target.js';

const tag = randomBytes(4).toString('hex');
const RUN = `hostile-bw-${tag}`;
const MARKER = `ratchet-hostile-${tag}`;
const API_KEY = `sk-ant-test-${randomBytes(16).toString('hex')}`;
const DB_PASSWORD = `hostile-db-password-${randomBytes(8).toString('hex')}`;
// Unique sleep durations, to find the children of this run's bench among all processes.
const n = 4000 + (randomBytes(2).readUInt16BE() % 1000);
const SLEEPS = [`${n}.11`, `${n}.22`, `${n}.33`] as const;

const WHAT = {
  fake: 'checks rewrite the bench into a self-restoring fake',
  refs: 'the bench moves main and the best branch and makes a branch',
  gain90: 'lower the cost to 90',
  linkChecks: 'checks delete the .git link',
  linkBench: 'the bench deletes the .git link',
  outside: 'write outside the worktree',
  tcp: 'connect to a listener on 127.0.0.1',
  environ: "read ratchet's environment",
  children: 'leave children behind that hold stdout',
  forge: 'forge a keep in the record and poke Redis',
  symlink: 'replace work.js by a link to /etc/passwd',
  huge: 'a 49 MB patch',
  gain50: 'lower the cost to 50',
};

describe('hostile candidates with the sandbox', () => {
  let target: { path: string; cleanup: () => Promise<void> };
  let work: { path: string; cleanup: () => Promise<void> };
  let listener: Server;
  let connections = 0;
  let outside: string;
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
    target = await makeHostileTarget();
    mainBefore = git(target.path, 'rev-parse', 'refs/heads/main');
    work = await tempDir();
    outside = join(work.path, 'outside');
    await mkdir(outside);
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    const patches = join(work.path, 'patches');
    await writePatches(patches, {
      '01.patch': hostileModulePatch('fake', WHAT.fake, FAKE_BENCH),
      '02.patch': hostileModulePatch('refs', WHAT.refs, MOVE_REFS),
      '03.patch': replaceLinePatch('cost.txt', '100', '90', WHAT.gain90),
      // e0004 waits with its link deleted; the test kills ratchet then, and resumes.
      '04.patch': hostileModulePatch('link', WHAT.linkChecks, deleteGitLink(['checks'], 'e0004')),
      '05.patch': hostileModulePatch('link', WHAT.linkBench, deleteGitLink(['bench'])),
      '06.patch': hostileModulePatch('outside', WHAT.outside, writeOutside(MARKER, outside, true)),
      '07.patch': hostileModulePatch('tcp', WHAT.tcp, connectTo(port)),
      '08.patch': hostileModulePatch('environ', WHAT.environ, readRatchetEnviron(['ANTHROPIC_API_KEY', 'HOSTILE_DB_PASSWORD', 'RATCHET_KEY'], true)),
      '09.patch': hostileModulePatch('children', WHAT.children, escapeChildren(SLEEPS)),
      '10.patch': hostileModulePatch('forge', WHAT.forge, FORGE_RECORD),
      '11.patch': await gitMadePatch(HOSTILE_FILES, WHAT.symlink, async (dir) => {
        await rm(join(dir, 'work.js'));
        await symlink('/etc/passwd', join(dir, 'work.js'));
      }),
      '12.patch': hugePatch(49, WHAT.huge),
      '13.patch': replaceLinePatch('cost.txt', '90', '50', WHAT.gain50),
    });
    experiments = join(work.path, 'experiments');
    runFolder = join(experiments, RUN);
    const args = ['--experiments', experiments];
    const cli = spawnCli(['run', target.path, '--agent', 'replay', '--patches', patches, '--run-id', RUN, ...args], { env });
    await waitFor(async () => (await readFile(join(runFolder, 'e0004', 'checks.log'), 'utf8').catch(() => '')).includes('hostile-git-deleted'), 90_000, 'the candidate to delete its .git link');
    cli.child.kill('SIGKILL');
    first = await cli.done;
    resumed = await runCli(['resume', RUN, ...args], { env });
    events = parseEvents(await readFile(join(runFolder, 'events.jsonl'), 'utf8')).events;
  }, 180_000);

  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
    await rm(join(homedir(), `${MARKER}-home`), { force: true });
    await rm(`/tmp/${MARKER}-tmp`, { force: true });
    await target.cleanup();
    await work.cleanup();
  });

  it('runs every command of the candidates in the sandbox', async () => {
    expect(first.signal).toBe('SIGKILL');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('internal error');
    const starts: string[] = [];
    for (const e of events) {
      if (e.type !== 'experiment_finished' || e.exp === 'e0000') continue;
      for (const stage of ['checks', 'bench']) {
        const text = await readFile(join(runFolder, e.exp, `${stage}.log`), 'utf8').catch(() => '');
        starts.push(...text.split('\n').filter((line) => /^\[ratchet\] \S+ in \//.test(line)));
      }
    }
    expect(starts.length).toBeGreaterThan(10);
    expect(starts.filter((line) => !line.endsWith(' (sandboxed)'))).toEqual([]);
  });

  it('keeps the real bench when a check tries to rewrite it into a self-restoring fake', async () => {
    expect(finished(WHAT.fake)).toMatchObject({ verdict: 'discard', metric: 100 });
    expect(await log(WHAT.fake, 'checks')).toContain('rewrite bench/run.js: EROFS');
    expect(await log(WHAT.fake, 'bench')).not.toContain('hostile-fake-bench-ran');
  });

  it("leaves the user's main, the best branch and the branch list alone when the bench moves them", async () => {
    expect(finished(WHAT.refs).verdict).not.toBe('keep');
    const bench = await log(WHAT.refs, 'bench');
    for (const what of ['move refs/heads/main', 'move the best branch', 'create a branch']) {
      expect(bench).toContain(`[hostile] ${what}: `);
      expect(bench).not.toContain(`[hostile] ${what}: done`);
    }
    expect(git(target.path, 'rev-parse', 'refs/heads/main')).toBe(mainBefore);
    expect(git(target.path, 'branch', '--list', 'hostile-branch')).toBe('');
    expect(finished(WHAT.gain90)).toMatchObject({ verdict: 'keep', metric: 90 });
  });

  it('gives a candidate that deletes its .git link a verdict, and resumes past it when ratchet was killed meanwhile', async () => {
    expect(events.find((e) => e.type === 'experiment_cancelled')).toMatchObject({ exp: 'e0004' });
    const again = finished(WHAT.linkChecks);
    expect(again.exp).not.toBe('e0004');
    expect(again.verdict).not.toBe('keep');
    expect(await log(WHAT.linkChecks, 'checks')).toMatch(/\[hostile\] delete \.git: (EBUSY|EROFS|EPERM)/);
    expect(finished(WHAT.linkBench).verdict).not.toBe('keep');
    expect(await log(WHAT.linkBench, 'bench')).toMatch(/\[hostile\] delete \.git: (EBUSY|EROFS|EPERM)/);
  });

  it("writes nothing outside the worktree: not by absolute path, not into HOME, not into the user's checkout", async () => {
    expect(finished(WHAT.outside).verdict).not.toBe('keep');
    const checks = await log(WHAT.outside, 'checks');
    expect(checks).toContain(`the user checkout is ${target.path}`);
    for (const path of [join(outside, `${MARKER}-abs`), `/tmp/${MARKER}-tmp`, join(homedir(), `${MARKER}-home`), join(target.path, `${MARKER}-checkout`)]) {
      expect(await exists(path), path).toBe(false);
    }
    expect(porcelain(target.path)).toBe('');
    expect(await readFile(join(target.path, 'cost.txt'), 'utf8')).toBe('100\n');
  });

  it('lets no connection out to 127.0.0.1 from the checks or the bench', async () => {
    expect(await log(WHAT.tcp, 'checks')).toMatch(/\[hostile\] connect to 127\.0\.0\.1:\d+: E[A-Z]+/);
    expect(await log(WHAT.tcp, 'bench')).toMatch(/\[hostile\] connect to 127\.0\.0\.1:\d+: E[A-Z]+/);
    expect(connections).toBe(0);
  });

  it("hides ratchet's environment: the API key is in no log, event or result, not even encoded", async () => {
    expect(await log(WHAT.environ, 'bench')).toContain('[hostile] processes of ratchet found');
    const encoded = (line: string): string => Buffer.from(line).toString('base64');
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

  it('keeps the record out of reach: no forged keep in the events or in show, no answer from Redis', async () => {
    const bench = await log(WHAT.forge, 'bench');
    expect(bench).toContain('[hostile] run folders found: 0');
    expect(bench).not.toContain('hostile-redis-answered');
    expect(await readFile(join(runFolder, 'events.jsonl'), 'utf8')).not.toContain('hostile-forged-keep');
    const table = await showRun(experiments, RUN);
    expect(table.rows.map((r) => r.experiment)).not.toContain('e0999');
    expect(table.summary.best?.experiment).not.toBe('e0999');
  });

  it('rejects a link to /etc/passwd before any job runs, and shows its content nowhere', async () => {
    const e = finished(WHAT.symlink);
    expect(e.verdict).toBe('rejected');
    expect(e.reason).toBe('adds a symlink work.js pointing outside the worktree (/etc/passwd)');
    expect(await exists(join(runFolder, e.exp, 'checks.log'))).toBe(false);
    expect(await exists(join(runFolder, e.exp, 'bench.log'))).toBe(false);
    const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n')[0]!;
    expect(await filesContaining(runFolder, [passwd])).toEqual([]);
  });

  it('rejects a 49 MB patch and shows a bounded part of it', async () => {
    const e = finished(WHAT.huge);
    expect(e.verdict).toBe('rejected');
    expect(e.reason).toMatch(/more than limits\.max_patch_bytes/);
    const shown = await runCli(['show', RUN, e.exp, '--experiments', experiments]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.length).toBeLessThan(300_000);
    expect(shown.stdout).toContain(e.exp);
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
