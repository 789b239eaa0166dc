/**
 * How a bench measures one candidate, derived once from the spec: whether it alternates with its
 * parent (A B A B …), how many rounds it runs, and how far an adaptive bench may be extended. The
 * loop, the worker's stages and policy, the decision and the live view all read it from here, so
 * they cannot disagree about what "an A/B bench" or "the most rounds" means. Pure.
 */
import type { BenchSpec, HoldoutSpec, Spec } from '../domain/spec.js';

export interface BenchPlan {
  /** Candidate and parent alternate, one pair per round: `repeat > 1` and a parent measured beside it. */
  paired: boolean;
  /** The rounds measured when nothing adapts: one per calibration seed, else `repeat`. */
  rounds: number;
  /** The most rounds measured: a paired bench may be extended up to `roundCap`; any other runs `rounds`. */
  maxRounds: number;
}

type Repeats = Pick<BenchSpec, 'repeat' | 'max_repeat'>;

/** The most rounds a policy may extend a bench to: `max_repeat`, else 3 × repeat capped at 50 (never below repeat). */
export function roundCap(bench: Repeats): number {
  return bench.max_repeat ?? Math.max(bench.repeat, Math.min(50, 3 * bench.repeat));
}

/**
 * `parent`: a parent is measured beside the candidate (every experiment but the baseline; for a
 * measurement, that it holds parent samples). `seeds`: the baseline's calibration, one run each.
 */
export function benchPlan(bench: Repeats, options: { parent: boolean; seeds?: readonly number[] | undefined }): BenchPlan {
  const paired = bench.repeat > 1 && options.parent;
  if (options.seeds !== undefined) return { paired, rounds: options.seeds.length, maxRounds: options.seeds.length };
  return { paired, rounds: bench.repeat, maxRounds: paired ? roundCap(bench) : bench.repeat };
}

/** The holdout as a bench: what the stage measures and the evidence is weighed with (never extended). */
export function holdoutBench(holdout: HoldoutSpec): BenchSpec {
  return {
    run: holdout.run,
    timeout: holdout.timeout,
    metric: holdout.metric,
    constraints: [],
    repeat: holdout.repeat,
    repeat_auto: holdout.repeat_auto,
    min_effect_auto: false,
    confidence_auto: false,
    max_repeat: holdout.repeat,
    warmup: 0,
    confidence: holdout.confidence,
    min_effect: holdout.min_effect,
  };
}

/** Whether candidates need their parent's worktree: the bench or the holdout is paired. */
export function measuresParent(spec: Pick<Spec, 'bench' | 'holdout'>): boolean {
  if (benchPlan(spec.bench, { parent: true }).paired) return true;
  return spec.holdout !== undefined && benchPlan(holdoutBench(spec.holdout), { parent: true }).paired;
}
