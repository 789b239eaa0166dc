/**
 * Decision simulation: the real decision code (`decide`, `adaptivePolicy`) fed with synthetic
 * measurements, no git, no Redis. It runs, side by side in one run, the noise-aware rule
 * (`repeat: 10`, adaptive up to 30 pairs) and the naive autoresearch rule (one run, kept when
 * better than the best), on no-op candidates (false keeps), candidates with a true 3% gain (power)
 * and regressions, under several noise models.
 *
 *   npx tsx bench/decision-sim.ts [--candidates 1000] [--models outliers,normal]
 *
 * About 25 minutes on one core at 1000 candidates per cell (every look bootstraps 4000 times);
 * `--candidates 100` gives rough figures in under 3; `--models` runs only the named noise models
 * and prints their rows without writing the results.
 *
 * Writes bench/results/decision-sim.json and bench/results/decision-sim.md. Seeded: the same
 * code gives the same figures.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSample, Evaluation } from '../src/domain/evaluation.js';
import { adaptivePolicy } from '../src/plan/adaptive.js';
import { calibrate, calibratedBench } from '../src/plan/calibration.js';
import { decide } from '../src/plan/decide.js';
import { roundCap } from '../src/plan/bench-plan.js';
import { median, mulberry32, type Rng } from '../src/plan/stats.js';
import { benchSchema, type BenchSpec } from '../src/domain/spec.js';

interface NoiseModel {
  name: string;
  description: string;
  /** SD of the log-normal drift shared by the two runs of a pair (machine state: clock, heat, neighbours). */
  drift: number;
  /** SD of the log-normal noise of each run on its own (process: JIT, GC, layout). */
  independent: number;
  /** Share of runs hit by a stall that makes them 2–5× slower. */
  outliers: number;
}

const MODELS: NoiseModel[] = [
  { name: 'normal', description: '5% CV: shared drift 4.47%, independent 2.24% (80% of the variance shared within a pair)', drift: 0.0447, independent: 0.0224, outliers: 0 },
  { name: 'outliers', description: 'normal, plus 2% of runs 2–5× slower (a stall, a GC storm, a noisy neighbour)', drift: 0.0447, independent: 0.0224, outliers: 0.02 },
  { name: 'outliers-5%', description: 'normal, plus 5% of runs 2–5× slower (stress case)', drift: 0.0447, independent: 0.0224, outliers: 0.05 },
  { name: 'less-shared', description: '5% CV: shared drift 4%, independent 3% (64% shared; sensitivity case)', drift: 0.04, independent: 0.03, outliers: 0 },
  { name: 'independent', description: '5% CV, nothing shared within a pair (noise of the run\'s own: sampling, random init, a seed the change reshuffles)', drift: 0, independent: 0.05, outliers: 0 },
];

const BASE_MS = 100;
const METRIC = { name: 'duration_ms', goal: 'minimize' } as const;

const paired = benchSchema.parse({ run: 'sim', metric: METRIC, repeat: 10, max_repeat: 30, confidence: 0.95, min_effect: '1%' });
const pairedNoMargin = benchSchema.parse({ run: 'sim', metric: METRIC, repeat: 10, max_repeat: 30, confidence: 0.95, min_effect: 0 });
/** What it takes on the models where 30 pairs fall short: a larger max_repeat. */
const pairedLonger = benchSchema.parse({ run: 'sim', metric: METRIC, repeat: 10, max_repeat: 50, confidence: 0.95, min_effect: '1%' });
/** What a spec with no repeat, min_effect or confidence gets once calibration finds the bench noisy. */
const autoSpec = benchSchema.parse({ run: 'sim', metric: METRIC });
const auto = calibratedBench(autoSpec, calibrate(autoSpec, [1, 2, 3, 4, 1], [100, 103, 98, 101, 99]));
const naive = benchSchema.parse({ run: 'sim', metric: METRIC, repeat: 1, min_effect: 0 });
const naiveMargin = benchSchema.parse({ run: 'sim', metric: METRIC, repeat: 1, min_effect: '1%' });

function gaussian(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** One bench run: the true value under the pair's drift, its own noise, and sometimes a stall. */
function runOnce(rng: Rng, model: NoiseModel, trueValue: number, drift: number): number {
  const value = trueValue * Math.exp(drift + model.independent * gaussian(rng));
  return rng() < model.outliers ? value * (2 + 3 * rng()) : value;
}

function evaluation(samples: BenchSample[]): Evaluation {
  const candidate = samples.filter((s) => s.side === 'candidate').map((s) => s.metric);
  return { status: 'ok', reason: '', stages: [], durationS: 0, failureTail: undefined, measurement: { metric: median(candidate), samples, secondary: {} } };
}

/** The noise-aware rule: A B A B … pairs until the adaptive policy stops, then `decide`. */
function pairedCandidate(rng: Rng, model: NoiseModel, bench: BenchSpec, effect: number): Outcome {
  const policy = adaptivePolicy(bench);
  const samples: BenchSample[] = [];
  for (let pair = 1; pair <= roundCap(bench); pair++) {
    const drift = model.drift * gaussian(rng);
    samples.push({ side: 'candidate', metric: runOnce(rng, model, BASE_MS * (1 - effect), drift), secondary: {} });
    samples.push({ side: 'parent', metric: runOnce(rng, model, BASE_MS, drift), secondary: {} });
    if (policy(samples) === 'stop') break;
  }
  const decision = decide({ bench, best: BASE_MS, evaluation: evaluation(samples) });
  const setAside = decision.stats?.['set_aside'];
  return { keep: decision.verdict === 'keep', pairs: samples.length / 2, setAside: typeof setAside === 'number' ? setAside : 0 };
}

/** autoresearch's rule: one run of the candidate against the best's one run, at another time. */
function naiveCandidate(rng: Rng, model: NoiseModel, bench: BenchSpec, effect: number): Outcome {
  const best = runOnce(rng, model, BASE_MS, model.drift * gaussian(rng));
  const samples: BenchSample[] = [{ side: 'candidate', metric: runOnce(rng, model, BASE_MS * (1 - effect), model.drift * gaussian(rng)), secondary: {} }];
  const decision = decide({ bench, best, evaluation: evaluation(samples) });
  return { keep: decision.verdict === 'keep', pairs: 0, setAside: 0 };
}

interface Row {
  model: string;
  rule: string;
  min_effect: string;
  confidence: number;
  /** Most pairs the paired rule may use; 0 for the naive rule. */
  max_repeat: number;
  /** True relative gain of every candidate: 0 is a no-op, 0.03 a 3% gain, −0.03 a regression. */
  true_gain: number;
  candidates: number;
  kept: number;
  kept_rate: number;
  /** Wilson 95% interval of the kept rate. */
  kept_rate_ci: [number, number];
  /** Pairs measured, set-aside ones included. */
  avg_pairs: number;
  /** Far-out pairs set aside (and measured again), per candidate. */
  avg_set_aside: number;
  p90_pairs: number;
  max_pairs: number;
}

function wilson(k: number, n: number): [number, number] {
  const z = 1.959964;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** One candidate: kept or not, pairs measured, and how many of them were set aside. */
interface Outcome {
  keep: boolean;
  pairs: number;
  setAside: number;
}

type Simulate = (rng: Rng, model: NoiseModel, bench: BenchSpec, effect: number) => Outcome;

function simulate(rule: string, simulateOne: Simulate, bench: BenchSpec, model: NoiseModel, effect: number, candidates: number, seed: number): Row {
  const rng = mulberry32(seed);
  let kept = 0;
  let setAside = 0;
  const pairs: number[] = [];
  for (let i = 0; i < candidates; i++) {
    const result = simulateOne(rng, model, bench, effect);
    if (result.keep) kept++;
    setAside += result.setAside;
    pairs.push(result.pairs);
  }
  pairs.sort((a, b) => a - b);
  const me = bench.min_effect;
  return {
    model: model.name,
    rule,
    min_effect: me.kind === 'relative' ? `${me.value * 100}%` : String(me.value),
    confidence: bench.confidence,
    max_repeat: bench.repeat > 1 ? roundCap(bench) : 0,
    true_gain: effect,
    candidates,
    kept,
    kept_rate: kept / candidates,
    kept_rate_ci: wilson(kept, candidates),
    avg_pairs: pairs.reduce((a, b) => a + b, 0) / candidates,
    avg_set_aside: setAside / candidates,
    p90_pairs: pairs[Math.floor(0.9 * (candidates - 1))]!,
    max_pairs: pairs[candidates - 1]!,
  };
}

function textOption(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function option(name: string, fallback: number): number {
  const text = textOption(name);
  return text === undefined ? fallback : Number(text);
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;

function markdown(rows: Row[], candidates: number): string {
  const lines = [
    '# Decision simulation',
    '',
    `Generated by \`npx tsx bench/decision-sim.ts\` (${candidates} candidates per cell, seeded). Metric \`${METRIC.name}\` (${METRIC.goal}), ${BASE_MS} ms.`,
    `Noise-aware rule: \`repeat: ${paired.repeat}\`, \`max_repeat: ${paired.max_repeat}\`, \`confidence: ${paired.confidence}\`, \`min_effect: 1%\`.`,
    `Default (\`repeat: auto\` on a bench its calibration finds noisy, nothing else in the spec): \`repeat: ${auto.repeat}\`, up to ${roundCap(auto)} pairs, \`confidence: ${auto.confidence}\`, \`min_effect: 1%\`.`,
    'Naive rule: one run, kept when better than the best (autoresearch). Goals: no-op kept ≤ 1%; a 3% gain kept ≥ 90% within 30 pairs.',
    'Pairs are those measured, far-out pairs set aside (and measured again) included.',
    '',
    '| noise | rule | min_effect | confidence | true gain | kept | 95% CI | avg pairs | p90 pairs | max pairs | set aside (avg) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const pairs = r.rule !== 'naive' ? [r.avg_pairs.toFixed(1), String(r.p90_pairs), String(r.max_pairs), r.avg_set_aside.toFixed(2)] : ['1 run', '', '', ''];
    const rule = r.rule === 'paired' ? `paired, ≤ ${r.max_repeat} pairs` : r.rule === 'auto' ? `repeat: auto, ≤ ${r.max_repeat} pairs` : r.rule;
    lines.push(`| ${r.model} | ${rule} | ${r.min_effect} | ${r.rule === 'naive' ? '' : r.confidence} | ${r.true_gain === 0 ? 'no-op' : `${r.true_gain > 0 ? '+' : ''}${pct(r.true_gain, 0)}`} | ${pct(r.kept_rate)} | ${pct(r.kept_rate_ci[0])}–${pct(r.kept_rate_ci[1])} | ${pairs.join(' | ')} |`);
  }
  lines.push('', 'Noise models:', '', ...MODELS.map((m) => `- \`${m.name}\`: ${m.description}.`), '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const candidates = option('candidates', 1000);
  const only = textOption('models')?.split(',');
  const wanted = (model: NoiseModel) => only === undefined || only.includes(model.name);
  const started = performance.now();
  const rows: Row[] = [];
  let seed = 1;
  const add = (row: Row) => {
    rows.push(row);
    console.error(`${row.model.padEnd(12)} ${row.rule.padEnd(7)} ≤${String(row.max_repeat).padEnd(3)} me=${row.min_effect.padEnd(3)} gain=${String(row.true_gain).padEnd(5)} kept ${pct(row.kept_rate).padStart(6)}  avg pairs ${row.avg_pairs.toFixed(1)}  set aside ${row.avg_set_aside.toFixed(2)}`);
  };
  for (const model of MODELS) {
    for (const effect of [0, 0.03]) {
      seed++;
      if (!wanted(model)) continue;
      add(simulate('naive', naiveCandidate, naive, model, effect, candidates, seed));
      add(simulate('naive', naiveCandidate, naiveMargin, model, effect, candidates, seed));
      add(simulate('paired', pairedCandidate, paired, model, effect, candidates, seed));
    }
  }
  const [normal, outliers, outliers5, lessShared] = MODELS as [NoiseModel, NoiseModel, NoiseModel, NoiseModel];
  seed += 2;
  if (wanted(normal)) {
    add(simulate('paired', pairedCandidate, paired, normal, -0.03, candidates, seed - 1));
    add(simulate('paired', pairedCandidate, pairedNoMargin, normal, 0, candidates, seed));
  }
  for (const model of [outliers, outliers5, lessShared]) {
    seed++;
    if (!wanted(model)) continue;
    add(simulate('paired', pairedCandidate, pairedLonger, model, 0, candidates, seed));
    add(simulate('paired', pairedCandidate, pairedLonger, model, 0.03, candidates, seed));
  }
  // The defaults: what `repeat: auto` resolves to on a noisy bench with nothing else in the spec.
  for (const model of MODELS) {
    for (const effect of [0, 0.03, 0.1]) {
      seed++;
      if (wanted(model)) add(simulate('auto', pairedCandidate, auto, model, effect, candidates, seed));
    }
  }
  if (only !== undefined) {
    // A subset is for trying things out: print it, keep the committed figures whole.
    console.log(markdown(rows, candidates));
    return;
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(out, { recursive: true });
  const report = {
    v: 1,
    bench: { metric: METRIC, base_ms: BASE_MS, paired: { repeat: paired.repeat, max_repeat: paired.max_repeat, confidence: paired.confidence, min_effect: '1%' }, auto: { repeat: auto.repeat, max_repeat: roundCap(auto), confidence: auto.confidence, min_effect: auto.min_effect } },
    goals: { no_op_kept_max: 0.01, gain_3pct_kept_min: 0.9, max_pairs: 30 },
    models: MODELS,
    rows,
  };
  await writeFile(join(out, 'decision-sim.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, 'decision-sim.md'), markdown(rows, candidates));
  console.log(markdown(rows, candidates));
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
