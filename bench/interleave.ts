/**
 * Timing for benchmarks that compare arms within one run: every arm in every round (or every
 * k-th round, for arms too slow to run each time), in a shuffled order per round, so that drift
 * of the machine (clock, heat, neighbours) falls on all arms alike.
 */
import { median, quantile, type Rng } from '../src/plan/stats.js';

export interface Arm {
  run: () => Promise<unknown>;
  /** Run in every `every`-th round only (default 1): for arms that take seconds. */
  every?: number;
}

/** One timing of an arm, with the round it ran in, so two arms can be paired round by round. */
export interface Sample {
  round: number;
  ms: number;
}

export interface Summary {
  n: number;
  median_ms: number;
  p90_ms: number;
}

export function summary(values: readonly number[]): Summary {
  return { n: values.length, median_ms: median(values), p90_ms: quantile(values, 0.9) };
}

export async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `warmup` rounds not recorded, then `rounds` recorded. */
export async function interleave(arms: Record<string, Arm>, rounds: number, warmup: number, rng: Rng, label: string): Promise<Record<string, Sample[]>> {
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(arms).map((name) => [name, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    const due = Object.keys(arms).filter((name) => round % (arms[name]!.every ?? 1) === 0);
    for (const name of shuffled(due, rng)) {
      const ms = await timed(arms[name]!.run);
      if (round >= warmup) samples[name]!.push({ round, ms });
    }
    if ((round + 1) % 50 === 0) console.error(`${label}: round ${round + 1}/${warmup + rounds}`);
  }
  return samples;
}

/** Median of `a − b` over the rounds both ran in: the cost of `a` with the round's drift cancelled. */
export function pairedMedian(a: readonly Sample[], b: readonly Sample[]): number {
  const byRound = new Map(b.map((s) => [s.round, s.ms]));
  return median(a.flatMap((s) => (byRound.has(s.round) ? [s.ms - byRound.get(s.round)!] : [])));
}
