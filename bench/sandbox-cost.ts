/**
 * Sandbox cost: what bubblewrap adds to each command ratchet runs, and, apart from it, what stage
 * isolation (put the worktree back, check the repository and the protected files) adds to each
 * stage. Real git repositories and worktrees in a temporary folder, the real runner, the real
 * mounts (`checkoutMounts` of a real `readTreeState`), the real `GitCheckoutGuard`.
 *
 *   npx tsx bench/sandbox-cost.ts [--reps 200] [--warmup 20] [--stage-reps 20]
 *
 * Every arm runs in the same rounds, in a shuffled order each round, so drift of the machine
 * (clock, heat, neighbours) falls on all of them alike; the figures that matter are differences
 * and ratios within this one run. About ten minutes on two cores, most of it in the 500-mount
 * arms and the 20,000-file stages. Needs a working bubblewrap.
 *
 * Writes bench/results/sandbox-cost.json and bench/results/sandbox-cost.md.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandOptions, SandboxMount } from '../src/domain/command-runner.js';
import { checkoutMounts } from '../src/eval/stage-sandbox.js';
import { mulberry32 } from '../src/plan/stats.js';
import { git } from '../src/git/exec.js';
import { readTreeState } from '../src/git/tree-state.js';
import { ExecaCommandRunner } from '../src/proc/run-command.js';
import { bwrapArgs, probeBwrap, readSandboxHost } from '../src/proc/sandbox.js';
import { interleave, pairedMedian, summary, type Arm, type Summary } from './interleave.js';
import { addWorktree, makeRepo, nodeModules, writeFiles, type Repo } from './sandbox-fixture.js';
import { PARTS, stageIsolation } from './sandbox-stages.js';

const GOAL_MS = 20;
const PROTECTED = ['eval/*.json', 'ratchet.yaml', 'bench.js'];
const COMMAND = 'true';
/** Arms slower than about 200 ms run every SLOW-th round only. */
const SLOW = 5;
/** How many of the caller's mounts (git dir, hide, worktree, .git, then protected files) raw bwrap gets. */
const SWEEP = [0, 24, 100, 250, 504];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Runs a program to its exit, output ignored; throws unless it exits 0 (the bench is then wrong). */
function runRaw(file: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { cwd, stdio: 'ignore' });
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`${file} exited ${code}`))));
  });
}

function output(file: string, args: readonly string[]): Promise<string> {
  return new Promise((done) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', () => done('unknown'));
    child.once('close', () => done(out.trim()));
  });
}

interface Checkout {
  repo: Repo;
  worktree: string;
  tree: Map<string, string>;
}

/** `packages`: an ignored node_modules of that many 50-file packages, as setup would leave it. */
async function checkout(root: string, name: string, sources: number, cases: number, packages = 0): Promise<Checkout> {
  const repo = await makeRepo(join(root, name), sources, cases);
  const worktree = await addWorktree(repo, 'e0001');
  if (packages > 0) await writeFiles(worktree, nodeModules(packages, 50));
  return { repo, worktree, tree: await readTreeState(worktree) };
}

/** The mounts of a checks or bench stage (stage-sandbox.ts `stageSandbox`, no `sandbox_paths`). */
function mountsOf(c: Checkout, wholeFolders = true): SandboxMount[] {
  return checkoutMounts({ gitDir: c.repo.gitDir, worktree: c.worktree, tree: c.tree, protected: PROTECTED, wholeFolders, sandboxPaths: [] });
}

interface Cost {
  sandboxed: string;
  plain: string;
  cost_ms: number;
  paired_median_cost_ms: number;
  ratio: number;
}

async function commandCosts(root: string, rounds: number, warmup: number) {
  const small = await checkout(root, 'repo-20', 178, 18);
  const large = await checkout(root, 'repo-500', 178, 498);
  const big = await checkout(root, 'repo-20k', 178, 18, 400);
  const runner = new ExecaCommandRunner();
  const host = readSandboxHost(process.env);
  await mkdir(join(root, 'logs'));
  const options = (c: Checkout, arm: string): CommandOptions => ({ command: COMMAND, cwd: c.worktree, timeoutMs: 60_000, logFile: join(root, 'logs', `${arm}.log`) });
  // Mounts are built for every command, as stages.ts does, so their cost is in the sandboxed arms.
  // Mounts are worked out once per stage by the executor, not per command: likewise here (their
  // cost is reported apart, as "building the mounts").
  const sandboxed = (c: Checkout, arm: string) => {
    const mounts = mountsOf(c);
    return async (): Promise<void> => {
      const result = await runner.run({ ...options(c, arm), sandbox: { mode: 'bwrap', mounts, network: false } });
      if (result.exitCode !== 0 || result.sandboxed !== true) throw new Error(`${arm}: ${result.output}`);
    };
  };
  const plain = async (): Promise<void> => {
    const result = await runner.run({ ...options(small, 'plain'), sandbox: { mode: 'none', mounts: [], network: false } });
    if (result.exitCode !== 0 || result.sandboxed === true) throw new Error(`plain: ${result.output}`);
  };
  const mounts20 = mountsOf(small);
  // One mount per protected file, as setup gets them (later stages get eval/ as one mount): the
  // sweep shows what many mounts cost bubblewrap.
  const mounts500 = mountsOf(large, false);
  const arms: Record<string, Arm> = {
    plain: { run: plain },
    sandboxed_20: { run: sandboxed(small, 'sandboxed-20') },
    sandboxed_500: { run: sandboxed(large, 'sandboxed-500'), every: SLOW },
    sandboxed_20_big: { run: sandboxed(big, 'sandboxed-20-big') },
    raw_sh: { run: () => runRaw('sh', ['-c', COMMAND], small.worktree) },
    // bwrap's own floor: the namespaces and /proc over the whole root, one bind (the probe's arguments).
    raw_bwrap_min: { run: () => runRaw('bwrap', ['--unshare-pid', '--unshare-net', '--die-with-parent', '--new-session', '--ro-bind', '/', '/', '--proc', '/proc', '--', 'true'], '/') },
  };
  const sweep: Record<number, SandboxMount[]> = {};
  for (const count of SWEEP) {
    const mounts = count === mounts20.length ? mounts20 : mounts500.slice(0, count);
    sweep[count] = mounts;
    const args = bwrapArgs(host, { mode: 'bwrap', mounts, network: false }, count === 0 ? '/' : mounts[2]!.path, COMMAND);
    arms[`raw_bwrap_${count}`] = { run: () => runRaw('bwrap', args, '/'), every: count >= 250 ? SLOW : 1 };
  }
  const samples = await interleave(arms, rounds, warmup, mulberry32(1), 'commands');
  const s: Record<string, Summary> = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, summary(values.map((x) => x.ms))]));
  const cost = (sandboxedArm: string, plainArm: string): Cost => ({
    sandboxed: sandboxedArm,
    plain: plainArm,
    cost_ms: s[sandboxedArm]!.median_ms - s[plainArm]!.median_ms,
    paired_median_cost_ms: pairedMedian(samples[sandboxedArm]!, samples[plainArm]!),
    ratio: s[sandboxedArm]!.median_ms / s[plainArm]!.median_ms,
  });
  const building = (c: Checkout): Summary => {
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      mountsOf(c);
      times.push(performance.now() - started);
    }
    return summary(times);
  };
  return {
    caller_mounts: { protected_20: mounts20.length, protected_500: mountsOf(large).length, protected_500_a_file_each: mounts500.length },
    fixed_bwrap_args: bwrapArgs(host, { mode: 'bwrap', mounts: [], network: false }, '/', COMMAND).length,
    arms: s,
    costs: [cost('sandboxed_20', 'plain'), cost('sandboxed_20_big', 'plain'), cost('sandboxed_500', 'plain'), cost('raw_bwrap_24', 'raw_sh'), cost('raw_bwrap_504', 'raw_sh')],
    mount_sweep: SWEEP.map((count) => ({
      caller_mounts: count,
      median_ms: s[`raw_bwrap_${count}`]!.median_ms,
      cost_over_sh_ms: s[`raw_bwrap_${count}`]!.median_ms - s['raw_sh']!.median_ms,
      ms_per_caller_mount: count === 0 ? undefined : (s[`raw_bwrap_${count}`]!.median_ms - s['raw_bwrap_0']!.median_ms) / count,
    })),
    mount_building: { protected_20: building(small), protected_20_big: building(big), protected_500: building(large) },
  };
}

const ms = (x: number) => x.toFixed(1);

type Report = Awaited<ReturnType<typeof measure>>;

function markdown(r: Report): string {
  const { commands: c, stages } = r;
  const arm = (label: string, name: string) => `| ${label} | ${c.arms[name]!.n} | ${ms(c.arms[name]!.median_ms)} | ${ms(c.arms[name]!.p90_ms)} |`;
  const label: Record<string, string> = {
    sandboxed_20: `runner, bwrap, 20 protected files`,
    sandboxed_500: `runner, bwrap, 500 protected files`,
    sandboxed_20_big: `runner, bwrap, 20 protected files, 20,000-file worktree`,
    raw_bwrap_24: 'raw bwrap, 20 protected files',
    raw_bwrap_504: 'raw bwrap, 500 protected files, a mount each (as during setup)',
    plain: 'runner, no sandbox',
    raw_sh: 'raw `sh -c true`',
  };
  return [
    '# Sandbox cost',
    '',
    `Generated by \`npm run bench:sandbox\` (\`bench/sandbox-cost.ts\`), ${r.date}: ${r.machine.cpu}, ${r.machine.cores} cores (load ${r.machine.load_1min_at_start_and_end.map((x) => x.toFixed(1)).join(' → ')}), Linux ${r.machine.kernel}, Node ${r.node}, ${r.bwrap}.`,
    `\`${COMMAND}\`, every arm interleaved with the others in shuffled rounds (arms over ~200 ms every ${SLOW}th round). Goal: sandbox cost < ${GOAL_MS} ms per command: **${r.goal_met ? 'met' : 'not met'}**.`,
    '',
    '| command | runs | median ms | p90 ms |',
    '| --- | --- | --- | --- |',
    arm('runner (`ExecaCommandRunner`), no sandbox', 'plain'),
    arm(`runner, bwrap, 20 protected files (${c.caller_mounts.protected_20} mounts of the checkout)`, 'sandboxed_20'),
    arm(`runner, bwrap, 20 protected files, worktree with a 20,000-file node_modules`, 'sandboxed_20_big'),
    arm(`runner, bwrap, 500 protected files in eval/ (${c.caller_mounts.protected_500} mounts: the folder is one)`, 'sandboxed_500'),
    arm('raw `sh -c true` (child_process)', 'raw_sh'),
    arm('raw `bwrap --ro-bind / / --proc /proc … true`', 'raw_bwrap_min'),
    ...SWEEP.map((count) => arm(`raw \`bwrap …\` as the runner builds it, ${count} mounts of the checkout (a file each)`, `raw_bwrap_${count}`)),
    '',
    '| sandbox cost per command | median − median, ms | paired median, ms | ratio |',
    '| --- | --- | --- | --- |',
    ...c.costs.map((x) => `| ${label[x.sandboxed]} vs ${label[x.plain]} | **${ms(x.cost_ms)}** | ${ms(x.paired_median_cost_ms)} | ${x.ratio.toFixed(2)}× |`),
    '',
    `Average cost per mount of the checkout (raw bwrap, over the same with none): ${c.mount_sweep
      .filter((x) => x.ms_per_caller_mount !== undefined)
      .map((x) => `${x.ms_per_caller_mount!.toFixed(2)} ms at ${x.caller_mounts}`)
      .join(', ')}: bubblewrap 0.8 re-reads the whole mount table after every bind, so each bind costs in proportion to the mounts already made and the total grows with the square of their number.`,
    `Building the mounts (once per stage, not part of the runner arms; \`checkoutMounts\` matches every path of the worktree against the protected globs): ${c.mount_building.protected_20.median_ms.toFixed(2)} ms with 20 protected files, ${c.mount_building.protected_20_big.median_ms.toFixed(2)} ms on the 20,000-file worktree, ${c.mount_building.protected_500.median_ms.toFixed(2)} ms with 500 protected files.`,
    '',
    '## Stage isolation (per stage, with or without the sandbox)',
    '',
    `Link check and restore before the stage, repository snapshot around it, link check, repository undo and protected-file check after (src/eval/isolation.ts). ${Object.values(stages)[0]!.total.n} stages per row, rows interleaved. _dirty_: the stage wrote 10 files and changed a tracked one.`,
    '',
    `| worktree | total median ms | p90 ms | ${PARTS.map((part) => part.replaceAll('_', ' ')).join(' | ')} | building the mounts (per command) |`,
    `| --- | --- | --- | ${PARTS.map(() => '---').join(' | ')} | --- |`,
    ...Object.values(stages).map(
      (x) =>
        `| ${x.files} files${x.dirty ? ', dirty' : ''} | **${ms(x.total.median_ms)}** | ${ms(x.total.p90_ms)} | ${PARTS.map((part) => ms(x.parts[part].median_ms)).join(' | ')} | ${x.mount_building.median_ms.toFixed(2)} |`,
    ),
    '',
  ].join('\n');
}

async function measure(root: string) {
  const load = [loadavg()[0]!];
  const commands = await commandCosts(root, option('reps', 200), option('warmup', 20));
  const stages = await stageIsolation(root, option('stage-reps', 20), PROTECTED);
  load.push(loadavg()[0]!);
  return {
    v: 1,
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30), kernel: release(), tmpdir: tmpdir(), load_1min_at_start_and_end: load },
    node: process.version,
    bwrap: await output('bwrap', ['--version']),
    git: (await git(['--version'], { cwd: root })).stdout.trim(),
    command: COMMAND,
    goal_ms: GOAL_MS,
    /** With the realistic 20 protected files, through the runner. */
    goal_met: commands.costs[0]!.cost_ms < GOAL_MS,
    commands,
    stages,
  };
}

async function main(): Promise<void> {
  const probe = await probeBwrap();
  if (!probe.ok) throw new Error(`bubblewrap does not work here: ${probe.reason}`);
  const started = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'ratchet-sandbox-bench-'));
  try {
    const report = await measure(root);
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'sandbox-cost.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(out, 'sandbox-cost.md'), markdown(report));
    console.log(markdown(report));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
