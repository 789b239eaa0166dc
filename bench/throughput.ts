/**
 * Throughput: experiments per hour with 1, 2, 4, 8 and 16 named workers, each with one bench
 * slot, against the ideal (workers × 1,800 an hour for a bench of 2 s). The bench sleeps a fixed
 * 2 s and prints a constant metric, so nothing is kept and nothing is measured twice; the replay
 * agent adds one file per experiment. Real git repositories, a private redis-server on a unix
 * socket, the real run (`startRun`, no in-process worker), the default sandbox (bubblewrap where
 * it works), and real workers: by default separate `ratchet worker --name wN --bench-slots 1`
 * processes, as on other machines (started before the clock starts, so Node's start-up is not
 * counted); with `--in-process`, `startWorker` calls in this process instead.
 *
 * `agent.parallel` is `--in-flight` (default 2) times the workers: a bench slot whose candidate
 * is done waits for the next one to be proposed and committed unless another is ready, so with
 * one candidate per slot the slots idle for the orchestration of every experiment.
 *
 *   npx tsx bench/throughput.ts [--workers 1,2,4,8,16] [--per-worker 8] [--in-flight 2] [--in-process] [--out throughput]
 *
 * Counted from the first candidate's start (after the baseline) to the last verdict, with the
 * fixed costs at the start and the end beside it (`ramps`). Writes bench/results/throughput.json
 * and .md (or <out>.*).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunner, createWorkerCheckouts, createWorkerExecutor, processRedactor } from '../src/app/compose.js';
import { startRun } from '../src/app/run.js';
import type { RunEvent } from '../src/domain/events.js';
import { startWorker, type RunningWorker } from '../src/queue/worker.js';

const BENCH_S = 2;
const IDEAL_PER_WORKER_H = 3600 / BENCH_S;
const GOAL = 0.9;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function gitIn(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });
}

async function startRedis(dir: string): Promise<{ url: string; stop: () => void }> {
  const socket = join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  for (const deadline = Date.now() + 10_000; ; ) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection(socket);
      s.once('connect', () => (s.end(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis+unix://${socket}`, stop: () => child.kill('SIGTERM') };
}

/** A target whose bench sleeps 2 s and prints a constant, and `count` patches that each add a file. */
async function makeTarget(root: string, workers: number, count: number, inFlight: number): Promise<{ repo: string; patches: string }> {
  const repo = join(root, `target-${workers}`);
  const patches = join(root, `patches-${workers}`);
  await mkdir(join(repo, 'src'), { recursive: true });
  await mkdir(patches, { recursive: true });
  await writeFile(join(repo, 'src', 'keep.txt'), 'x\n');
  await writeFile(join(repo, 'bench.sh'), `#!/bin/sh\nsleep ${BENCH_S}\necho "METRIC score=10"\n`);
  await writeFile(
    join(repo, 'ratchet.yaml'),
    [
      'objective: throughput',
      'editable: ["src/**"]',
      'protected: ["bench.sh", "ratchet.yaml"]',
      'bench: { run: sh bench.sh, timeout: 1m, repeat: 1, metric: { name: score, goal: minimize } }',
      `budget: { experiments: ${count}, consecutive_failures: ${count + 1} }`,
      `agent: { kind: replay, parallel: ${workers * inFlight} }`,
      '',
    ].join('\n'),
  );
  gitIn(repo, 'init', '-q');
  gitIn(repo, 'add', '.');
  gitIn(repo, 'commit', '-qm', 'base');
  for (let i = 1; i <= count; i++) {
    const name = `f${String(i).padStart(4, '0')}.txt`;
    await writeFile(join(patches, `${String(i).padStart(4, '0')}.patch`), `# add ${name}\ndiff --git a/src/${name} b/src/${name}\nnew file mode 100644\n--- /dev/null\n+++ b/src/${name}\n@@ -0,0 +1 @@\n+${i}\n`);
  }
  return { repo, patches };
}

interface Row {
  workers: number;
  experiments: number;
  elapsedS: number;
  perHour: number;
  idealPerHour: number;
  ratio: number;
  /** How many distinct worker names ran a bench. */
  workersSeen: number;
  verdicts: Record<string, number>;
  /** Median seconds of each phase of an experiment: where the time that is not the bench goes. */
  phases: Record<Phase, number>;
  /** The run's fixed costs and its rate between them (`ramps`). */
  ramp: Ramp;
}

/**
 * What the whole-run figure holds beside the rate itself: how long a worker waited for its first
 * bench (32 candidates proposed and committed, and each worker's first worktree made, on two
 * cores at once), how long it idled at the end (a fixed count of experiments does not split
 * evenly), and the share of each worker's time between its first bench's start and its last
 * bench's end that its benches ran (the rate a run of hours keeps).
 */
interface Ramp {
  firstBenchS: number;
  idleAtEndS: number;
  steadyRatio: number;
}

/** Per worker, from the bench stages' ends and durations (their starts are the ends less the durations). */
function ramps(events: readonly RunEvent[], from: number, to: number): Ramp {
  const byWorker = new Map<string, { start: number; end: number }[]>();
  for (const e of events) {
    if (e.type !== 'stage_finished' || e.stage !== 'bench' || e.exp === 'e0000' || e.worker === undefined) continue;
    const end = Date.parse(e.t) / 1000;
    byWorker.set(e.worker, [...(byWorker.get(e.worker) ?? []), { start: end - e.durationS, end }]);
  }
  const firsts: number[] = [];
  const idles: number[] = [];
  let benching = 0;
  let spanned = 0;
  for (const benches of byWorker.values()) {
    const start = Math.min(...benches.map((b) => b.start));
    const end = Math.max(...benches.map((b) => b.end));
    firsts.push(start - from / 1000);
    idles.push(to / 1000 - end);
    benching += benches.length * BENCH_S;
    spanned += end - start;
  }
  return { firstBenchS: median(firsts), idleAtEndS: median(idles), steadyRatio: spanned === 0 ? 0 : benching / spanned };
}

const PHASES = ['worktree and proposal', 'commit', 'to the bench', 'bench', 'record'] as const;
type Phase = (typeof PHASES)[number];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per experiment: started → proposed → committed → bench started → bench finished → finished. */
function phases(events: readonly RunEvent[]): Record<Phase, number> {
  const at = new Map<string, Partial<Record<string, number>>>();
  for (const e of events) {
    if (!('exp' in e) || e.exp === 'e0000') continue;
    const marks = at.get(e.exp) ?? {};
    const key = e.type === 'stage_started' || e.type === 'stage_finished' ? (e.stage === 'bench' ? `${e.type}.bench` : undefined) : e.type;
    if (key !== undefined) marks[key] ??= Date.parse(e.t);
    at.set(e.exp, marks);
  }
  const order = ['experiment_started', 'proposed', 'committed', 'stage_started.bench', 'stage_finished.bench', 'experiment_finished'];
  const spans = PHASES.map(() => [] as number[]);
  for (const marks of at.values()) {
    order.slice(1).forEach((key, i) => {
      const from = marks[order[i]!];
      const to = marks[key];
      if (from !== undefined && to !== undefined) spans[i]!.push((to - from) / 1000);
    });
  }
  return Object.fromEntries(PHASES.map((p, i) => [p, median(spans[i]!)])) as Record<Phase, number>;
}

/** Workers serving `runId`, each `--name wN --bench-slots 1`; resolves once all of them serve. */
async function startWorkers(root: string, url: string, runId: string, workers: number, inProcess: boolean): Promise<() => Promise<void>> {
  if (inProcess) {
    const runner = createRunner(processRedactor());
    // The workers make their own worktrees, as on other machines; their clones would go here.
    const checkouts = createWorkerCheckouts(join(root, `worker-${workers}w`));
    const executor = createWorkerExecutor(runner, checkouts);
    const served: RunningWorker[] = [];
    for (let i = 1; i <= workers; i++) {
      served.push(await startWorker({ connection: { path: url.replace('redis+unix://', '') }, key: Buffer.from(process.env['RATCHET_KEY']!), executor, runs: [runId], name: `w${i}`, benchSlots: 1 }));
    }
    return async () => {
      await Promise.all(served.map((w) => w.close()));
      await checkouts.close();
    };
  }
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ratchet.js');
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 1; i <= workers; i++) {
    const args = [bin, 'worker', '--redis', url, '--run', runId, '--name', `w${i}`, '--bench-slots', '1', '--workdir', join(root, `worker-${workers}w-${i}`)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
    children.push(child);
    ready.push(
      new Promise<void>((resolve, reject) => {
        let said = '';
        child.stderr.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes(': serving ')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker w${i} exited ${code} before serving: ${said}`)));
      }),
    );
  }
  await Promise.all(ready);
  return async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
}

async function measure(root: string, url: string, workers: number, perWorker: number, inFlight: number, inProcess: boolean): Promise<Row> {
  const count = workers * perWorker;
  const { repo, patches } = await makeTarget(root, workers, count, inFlight);
  const runId = `throughput-${workers}w`;
  const stopWorkers = await startWorkers(root, url, runId, workers, inProcess);
  const events: RunEvent[] = [];
  try {
    await startRun({
      repo,
      flags: { agent: 'replay', patches },
      experimentsRoot: join(root, `experiments-${workers}`),
      runId,
      redis: url,
      inProcessWorker: false,
      signal: new AbortController().signal,
      onEvent: (event) => events.push(event),
    });
  } finally {
    await stopWorkers();
  }
  const first = events.find((e) => e.type === 'experiment_started' && e.exp !== 'e0000');
  const finished = events.filter((e) => e.type === 'experiment_finished' && e.exp !== 'e0000');
  const last = finished.at(-1);
  if (first === undefined || last === undefined) throw new Error(`the run with ${workers} workers finished no experiment`);
  const elapsedS = (Date.parse(last.t) - Date.parse(first.t)) / 1000;
  const perHour = (finished.length / elapsedS) * 3600;
  const idealPerHour = workers * IDEAL_PER_WORKER_H;
  const verdicts: Record<string, number> = {};
  for (const e of finished) if (e.type === 'experiment_finished') verdicts[e.verdict] = (verdicts[e.verdict] ?? 0) + 1;
  const names = new Set(events.flatMap((e) => (e.type === 'stage_finished' && e.stage === 'bench' && e.worker !== undefined ? [e.worker] : [])));
  const ramp = ramps(events, Date.parse(first.t), Date.parse(last.t));
  return { workers, experiments: finished.length, elapsedS, perHour, idealPerHour, ratio: perHour / idealPerHour, workersSeen: names.size, verdicts, phases: phases(events), ramp };
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

async function main(): Promise<void> {
  const counts = option('workers', '1,2,4,8,16').split(',').map(Number);
  const perWorker = Number(option('per-worker', '8'));
  const inFlight = Number(option('in-flight', '2'));
  const inProcess = process.argv.includes('--in-process');
  process.env['RATCHET_KEY'] ??= `throughput-bench-key-${'0'.repeat(32)}`;
  // Runs started here are indexed in a temporary folder, never the user's.
  const root = await mkdtemp(join(tmpdir(), 'ratchet-throughput-'));
  process.env['RATCHET_STATE_DIR'] = join(root, 'state');
  const redis = await startRedis(root);
  const before = uptime();
  const rows: Row[] = [];
  try {
    for (const workers of counts) {
      const row = await measure(root, redis.url, workers, perWorker, inFlight, inProcess);
      rows.push(row);
      process.stderr.write(`${workers} workers: ${row.experiments} experiments in ${row.elapsedS.toFixed(1)} s = ${row.perHour.toFixed(0)}/h, ${(row.ratio * 100).toFixed(1)}% of ${row.idealPerHour}/h\n`);
    }
  } finally {
    redis.stop();
    await rm(root, { recursive: true, force: true });
  }
  const after = uptime();
  const at16 = rows.find((r) => r.workers === 16);
  const result = {
    bench: 'throughput',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', uptimeBefore: before, uptimeAfter: after },
    setup: {
      benchSeconds: BENCH_S,
      experimentsPerWorker: perWorker,
      inFlightPerWorker: inFlight,
      workers: inProcess ? 'in this process, one startWorker({ name: wN, benchSlots: 1 }) each' : 'one `ratchet worker --name wN --bench-slots 1` process each',
      sandbox: 'auto (bubblewrap where it works)',
      agent: 'replay',
    },
    goal: { ratioAt16: GOAL, met: at16 === undefined ? undefined : at16.ratio >= GOAL },
    rows,
  };
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(dir, { recursive: true });
  const out = option('out', 'throughput');
  await writeFile(join(dir, `${out}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# Throughput: experiments per hour against the ideal',
    '',
    `A bench that sleeps ${BENCH_S} s (constant metric: no keeps, no re-measuring), the replay agent, ${perWorker} experiments per worker, \`agent.parallel\` = ${inFlight} × workers; ${result.setup.workers}, on this one machine; the default sandbox (${result.setup.sandbox}). Counted from the first candidate's start to the last verdict.`,
    '',
    '| workers | experiments | seconds | per hour | ideal per hour | of ideal | workers that ran a bench |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workers} | ${r.experiments} | ${r.elapsedS.toFixed(1)} | ${r.perHour.toFixed(0)} | ${r.idealPerHour} | ${(r.ratio * 100).toFixed(1)}% | ${r.workersSeen} |`),
    '',
    'The fixed costs in that figure, and the rate between them: the first bench\'s start after the clock and the idle time at the end (medians over the workers), and the share of each worker\'s time from its first bench\'s start to its last bench\'s end that it spent in the bench\'s 2 s (the rate a longer run tends to):',
    '',
    '| workers | first bench starts (s) | idle at the end (s) | between them, of ideal |',
    '|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workers} | ${r.ramp.firstBenchS.toFixed(2)} | ${r.ramp.idleAtEndS.toFixed(2)} | ${(r.ramp.steadyRatio * 100).toFixed(1)}% |`),
    '',
    'Where an experiment\'s time goes (median seconds per phase):',
    '',
    `| workers | ${PHASES.join(' | ')} |`,
    `|---:|${PHASES.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.workers} | ${PHASES.map((p) => r.phases[p].toFixed(2)).join(' | ')} |`),
    '',
    `Goal: at least ${GOAL * 100}% of ideal at 16 workers: ${at16 === undefined ? 'not measured' : at16.ratio >= GOAL ? 'met' : 'not met'}.`,
    '',
    `Machine: ${result.machine.cpus} × ${result.machine.model}.`,
    `Before: \`${before}\``,
    `After: \`${after}\``,
    '',
  ].join('\n');
  await writeFile(join(dir, `${out}.md`), md);
  process.stdout.write(md);
}

await main();
