/**
 * Orchestration overhead per experiment: what ratchet itself spends on an experiment, apart from
 * the agent and the target's own commands. The real product path: `startRun` (src/app/run.ts)
 * with its private redis-server, its in-process worker, real git and the default sandbox, the
 * replay agent applying patches that each change one line, and a bench that prints its metric at
 * once (`repeat: 1`, no setup, no checks).
 *
 *   npx tsx bench/overhead.ts [--experiments 30] [--large-files 20000] [--before REV --rounds 2] [--only small|large] [--out overhead]
 *
 * With `--before REV`, the code of REV (in a temporary worktree of this repository) and this
 * checkout's run alternately, `--rounds` runs each per repository size, in one session, so the
 * ratio between them is measured on the same machine at the same time.
 *
 * Per experiment, from the run's events.jsonl (timestamps to the millisecond):
 *   wall      experiment_started → the next experiment_started (so the worktree's removal and
 *             the next budget check, which follow experiment_finished, are counted)
 *   commands  the sum of stage_finished.durationS: the time of the stages' commands themselves
 *             (the bench; setup and checks have none here), sandbox start included
 *   agent     not in the events: the replay agent's propose() timed apart on the same repository
 *             (median of 10), one `git apply`
 *   overhead  wall − commands − agent
 * The baseline (e0000) and the cancelled last experiment (the agent had no patch left) are left out.
 *
 * Writes bench/results/overhead.json and .md (or <out>.*).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ReplayProposer } from '../src/agents/replay.js';
import { resolveRunSpec, startRun } from '../src/app/run.js';
import { median, quantile } from '../src/plan/stats.js';
import { git } from '../src/git/exec.js';
import { parseEvents, type RunEvent } from '../src/domain/events.js';
import { makeFixture, trackedFiles, type Fixture } from './run-fixture.js';

const GOALS_MS = { small: 100, large: 500 };

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const ms = (from: string, to: string): number => Date.parse(to) - Date.parse(from);

interface Row {
  exp: string;
  wall_ms: number;
  commands_ms: number;
  overhead_ms: number;
  /** Where the rest went, between events. */
  parts: Record<string, number>;
}

/** Per-experiment figures from the events; `agentMs` is subtracted from the part that holds the agent. */
function rowsOf(events: readonly RunEvent[], agentMs: number): Row[] {
  const byExp = new Map<string, RunEvent[]>();
  const starts: { exp: string; t: string }[] = [];
  for (const e of events) {
    if (!('exp' in e)) continue;
    if (e.type === 'experiment_started') starts.push({ exp: e.exp, t: e.t });
    byExp.set(e.exp, [...(byExp.get(e.exp) ?? []), e]);
  }
  const rows: Row[] = [];
  for (const [i, start] of starts.entries()) {
    const next = starts[i + 1];
    const own = byExp.get(start.exp) ?? [];
    const finished = own.find((e) => e.type === 'experiment_finished');
    if (start.exp === 'e0000' || next === undefined || finished === undefined) continue;
    const at = (type: RunEvent['type'], stage?: string): string | undefined => own.find((e) => e.type === type && (stage === undefined || ('stage' in e && e.stage === stage)))?.t;
    const stages = own.filter((e): e is Extract<RunEvent, { type: 'stage_finished' }> => e.type === 'stage_finished');
    const commands = stages.reduce((sum, e) => sum + e.durationS * 1000, 0);
    const wall = ms(start.t, next.t);
    const parts: Record<string, number> = {};
    const proposed = at('proposed');
    const committed = at('committed');
    if (proposed !== undefined) parts['worktree_and_agent_checks'] = ms(start.t, proposed) - agentMs;
    if (proposed !== undefined && committed !== undefined) parts['commit_and_patch'] = ms(proposed, committed);
    const setup = at('stage_started', 'setup');
    if (committed !== undefined && setup !== undefined) parts['gate_and_enqueue'] = ms(committed, setup);
    for (const stage of stages) {
      const began = at('stage_started', stage.stage);
      if (began !== undefined) parts[`stage_${stage.stage}`] = ms(began, stage.t) - stage.durationS * 1000;
    }
    const last = stages.at(-1);
    if (last !== undefined) parts['decide_and_record'] = ms(last.t, finished.t);
    parts['after_finished'] = ms(finished.t, next.t);
    rows.push({ exp: start.exp, wall_ms: wall, commands_ms: commands, overhead_ms: wall - commands - agentMs, parts });
  }
  return rows;
}

/** The replay agent's own time: one patch applied in a worktree of the repository, 10 times. */
async function agentTime(fixture: Fixture): Promise<number> {
  const worktree = join(fixture.root, 'agent-worktree');
  await git(['worktree', 'add', '--quiet', '--detach', worktree, 'HEAD'], { cwd: fixture.repo });
  const { spec } = await resolveRunSpec(fixture.repo, { agent: 'replay', patches: fixture.patches });
  const proposer = await ReplayProposer.fromFolder(fixture.patches);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const outcome = await proposer.propose(
      {
        runId: 'bench',
        experiment: 'e0001',
        worktree,
        parentCommit: 'HEAD',
        spec,
        objective: '',
        history: [],
        best: { experiment: 'e0000', metric: 1, commit: 'HEAD' },
        lastFailure: undefined,
        experimentDir: fixture.root,
        gitDir: join(fixture.repo, '.git'),
      },
      new AbortController().signal,
    );
    times.push(performance.now() - started);
    if (outcome.kind !== 'change') throw new Error(`the replay agent did not apply its patch: ${JSON.stringify(outcome)}`);
    await git(['checkout', '--quiet', '--', '.'], { cwd: worktree });
  }
  await git(['worktree', 'remove', '--force', worktree], { cwd: fixture.repo });
  return median(times);
}

const stat = (values: readonly number[]) => ({ median: Math.round(median(values)), p90: Math.round(quantile(values, 0.9)), mean: Math.round(values.reduce((a, b) => a + b, 0) / values.length) });

type StartRun = typeof startRun;

/** One run of `experiments` experiments on a new repository of `files` files, with the given code's `startRun`. */
async function measure(label: 'small' | 'large', files: number, experiments: number, run: StartRun = startRun) {
  const fixture = await makeFixture(label, files, experiments);
  try {
    const tracked = await trackedFiles(fixture.repo);
    const agentMs = await agentTime(fixture);
    const load = loadavg()[0]!;
    const started = Date.now();
    const outcome = await run({
      repo: fixture.repo,
      flags: { agent: 'replay', patches: fixture.patches },
      experimentsRoot: fixture.experiments,
      runId: `overhead-${label}`,
      signal: new AbortController().signal,
    });
    const runS = (Date.now() - started) / 1000;
    const { events } = parseEvents(await readFile(join(fixture.experiments, `overhead-${label}`, 'events.jsonl'), 'utf8'));
    const rows = rowsOf(events, agentMs);
    if (rows.length !== experiments) throw new Error(`${label}: ${rows.length} experiments measured, ${experiments} expected (stop: ${outcome.stop.reason}, ${outcome.stop.detail})`);
    const verdicts = [...new Set(events.flatMap((e) => (e.type === 'experiment_finished' && e.exp !== 'e0000' ? [e.verdict] : [])))];
    const partNames = [...new Set(rows.flatMap((r) => Object.keys(r.parts)))];
    return {
      repository: label,
      tracked_files: tracked,
      experiments: rows.length,
      verdicts,
      run_s: runS,
      load_1min_at_start_and_end: [load, loadavg()[0]!],
      agent_ms: Math.round(agentMs * 10) / 10,
      goal_ms: GOALS_MS[label],
      wall_ms: stat(rows.map((r) => r.wall_ms)),
      commands_ms: stat(rows.map((r) => r.commands_ms)),
      overhead_ms: stat(rows.map((r) => r.overhead_ms)),
      goal_met: median(rows.map((r) => r.overhead_ms)) <= GOALS_MS[label],
      parts_median_ms: Object.fromEntries(partNames.map((name) => [name, Math.round(median(rows.flatMap((r) => (r.parts[name] === undefined ? [] : [r.parts[name]]))))])),
      rows,
    };
  } finally {
    await fixture.cleanup();
  }
}

type Result = Awaited<ReturnType<typeof measure>>;

const PART_LABELS: Record<string, string> = {
  worktree_and_agent_checks: 'experiment_started → proposed, less the agent: the worktree, the repository snapshot, the checks of what the agent did',
  commit_and_patch: 'proposed → committed: status, add, write-tree, commit, the patch',
  gate_and_enqueue: 'committed → setup started: patch.diff, the gate, the first job',
  stage_setup: 'setup stage, less its commands: job, link check, clean checkout, record',
  stage_checks: 'checks stage, less its commands: job, restore, repository and protected-path checks',
  stage_bench: 'bench stage, less its commands: job, restore, repository and protected-path checks',
  decide_and_record: 'last stage finished → experiment_finished: refs put back, decision, result.json',
  after_finished: 'experiment_finished → next experiment_started: worktree removal, budget, next best',
};

/** Several runs of one arm on one repository size, as one result (their experiments together). */
function merged(runs: readonly Result[]): Result {
  const first = runs[0]!;
  const rows = runs.flatMap((r) => r.rows);
  const partNames = [...new Set(rows.flatMap((r) => Object.keys(r.parts)))];
  return {
    ...first,
    experiments: rows.length,
    verdicts: [...new Set(runs.flatMap((r) => r.verdicts))],
    run_s: runs.reduce((sum, r) => sum + r.run_s, 0),
    load_1min_at_start_and_end: [first.load_1min_at_start_and_end[0]!, runs.at(-1)!.load_1min_at_start_and_end[1]!],
    agent_ms: Math.round(median(runs.map((r) => r.agent_ms)) * 10) / 10,
    wall_ms: stat(rows.map((r) => r.wall_ms)),
    commands_ms: stat(rows.map((r) => r.commands_ms)),
    overhead_ms: stat(rows.map((r) => r.overhead_ms)),
    goal_met: median(rows.map((r) => r.overhead_ms)) <= first.goal_ms,
    parts_median_ms: Object.fromEntries(partNames.map((name) => [name, Math.round(median(rows.flatMap((r) => (r.parts[name] === undefined ? [] : [r.parts[name]]))))])),
    rows,
  };
}

interface Arm {
  name: string;
  /** The commit whose code it runs. */
  commit: string;
  run: StartRun;
}

/** The code of `rev` (its `src/`, exported to a temporary folder, with this checkout's node_modules); its `startRun`. */
async function armOf(rev: string, scratch: string): Promise<Arm> {
  const here = join(dirname(fileURLToPath(import.meta.url)), '..');
  const commit = (await git(['rev-parse', '--verify', `${rev}^{commit}`], { cwd: here })).stdout;
  const dir = join(scratch, `code-${commit.slice(0, 10)}`);
  await mkdir(dir);
  // An export, not a worktree: the repository's own worktree list is left alone.
  await promisify(execFile)('sh', ['-c', 'git archive --format=tar "$1" src package.json tsconfig.json | tar -x -C "$2"', 'sh', commit, dir], { cwd: here });
  await symlink(await realpath(join(here, 'node_modules')), join(dir, 'node_modules'));
  const module = (await import(join(dir, 'src', 'app', 'run.ts'))) as { startRun: StartRun };
  return { name: rev, commit, run: module.startRun };
}

function markdown(report: Report): string {
  const row = (arm: string, r: Result) =>
    `| ${arm} | ${r.repository} | ${r.tracked_files} | ${r.experiments} | ${r.wall_ms.median} | ${r.commands_ms.median} | ${r.agent_ms} | **${r.overhead_ms.median}** (p90 ${r.overhead_ms.p90}) | ≤ ${r.goal_ms}: ${r.goal_met ? 'met' : 'not met'} | ${r.load_1min_at_start_and_end.map((x) => x.toFixed(1)).join(' → ')} |`;
  const all = report.arms.flatMap((a) => a.results);
  const parts = [...new Set(all.flatMap((r) => Object.keys(r.parts_median_ms)))];
  const columns = report.arms.flatMap((a) => a.results.map((r) => ({ label: `${a.name}, ${r.tracked_files} files`, r })));
  const ratios = report.arms.length === 2 ? report.arms[1]!.results.map((after, i) => ({ after, before: report.arms[0]!.results[i]! })) : [];
  return [
    '# Orchestration overhead per experiment',
    '',
    `Generated by \`npx tsx bench/overhead.ts\`, ${report.date}: ${report.machine}. The real product path (\`startRun\`, a private redis-server, the in-process worker, real git, \`sandbox: auto\`, bubblewrap working here), the replay agent (one patch per experiment, each changing one line of its own file), a bench that prints its metric at once (\`repeat: 1\`, no setup, no checks).${report.arms.length > 1 ? ` Arms: ${report.arms.map((a) => `${a.name} (\`${a.commit.slice(0, 7)}\`)`).join(', ')}, ${report.rounds} runs each per repository size, alternating in one session, so both see the same machine.` : ''}`,
    '',
    'Per experiment, from `events.jsonl`: wall = `experiment_started` → the next `experiment_started`; commands = Σ `stage_finished.durationS` (the bench command, sandbox start included); agent = the replay agent\'s `propose()` timed apart on the same repository (median of 10); **overhead = wall − commands − agent**. Baseline and the final cancelled experiment left out. Medians in ms.',
    '',
    '| code | repository | tracked files | experiments | wall | commands | agent | overhead | goal | load (1 min) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.arms.flatMap((a) => a.results.map((r) => row(a.name, r))),
    '',
    ...(ratios.length === 0
      ? []
      : [
          ...ratios.map(({ before, after }) => `${after.tracked_files} files: overhead ${before.overhead_ms.median} → ${after.overhead_ms.median} ms, **${(after.overhead_ms.median / before.overhead_ms.median).toFixed(2)}×** (${report.arms[1]!.name} over ${report.arms[0]!.name}).`),
          '',
        ]),
    'Where the overhead goes (median ms per experiment, between events):',
    '',
    `| part | ${columns.map((c) => c.label).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
    ...parts.map((p) => `| ${PART_LABELS[p] ?? p} | ${columns.map((c) => c.r.parts_median_ms[p] ?? '').join(' | ')} |`),
    '',
  ].join('\n');
}

interface Report {
  date: string;
  machine: string;
  rounds: number;
  arms: { name: string; commit: string; results: Result[] }[];
}

async function main(): Promise<void> {
  const experiments = Number(option('experiments', '30'));
  const largeFiles = Number(option('large-files', '20000'));
  const rounds = Number(option('rounds', '1'));
  const before = option('before', '');
  const out = option('out', 'overhead');
  // One repository size alone, for a profile of it; the report then has that size only.
  const only = option('only', '');
  const scratch = await mkdtemp(join(tmpdir(), 'ratchet-bench-code-'));
  // The run index of this machine is not the bench's to write to.
  process.env['RATCHET_STATE_DIR'] ??= join(scratch, 'state');
  const here = join(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    const head = (await git(['rev-parse', 'HEAD'], { cwd: here })).stdout;
    const arms: Arm[] = [...(before === '' ? [] : [await armOf(before, scratch)]), { name: before === '' ? 'this checkout' : 'after', commit: head, run: startRun }];
    const runs = arms.map(() => ({ small: [] as Result[], large: [] as Result[] }));
    for (let round = 0; round < rounds; round++) {
      for (const [name, files] of ([['small', 40], ['large', largeFiles]] as const).filter(([size]) => only === '' || size === only)) {
        // Alternate which arm goes first, so drift of the machine falls on both alike.
        const order = arms.map((_, i) => i);
        if (round % 2 === 1) order.reverse();
        for (const i of order) {
          const r = await measure(name, Math.max(files, experiments + 3), experiments, arms[i]!.run);
          runs[i]![name].push(r);
          process.stdout.write(`${arms[i]!.name}, ${name}: ${r.tracked_files} files, overhead median ${r.overhead_ms.median} ms (wall ${r.wall_ms.median}, commands ${r.commands_ms.median}, agent ${r.agent_ms}, load ${r.load_1min_at_start_and_end[1]!.toFixed(1)})\n`);
        }
      }
    }
    const gitVersion = await promisify(execFile)('git', ['--version']).then((r) => r.stdout.trim(), () => 'git ?');
    const report: Report = {
      date: new Date().toISOString(),
      machine: `${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Linux ${release()}, Node ${process.version}, ${gitVersion}`,
      rounds,
      arms: arms.map((arm, i) => ({ name: arm.name, commit: arm.commit, results: [runs[i]!.small, runs[i]!.large].filter((r) => r.length > 0).map(merged) })),
    };
    const results = join(here, 'bench', 'results');
    await mkdir(results, { recursive: true });
    await writeFile(join(results, `${out}.json`), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(results, `${out}.md`), markdown(report));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
