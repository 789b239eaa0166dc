/**
 * Which seed each bench run gets (RATCHET_SEED, `{seed}`): the calibration's own list for the
 * baseline; for A/B pairs one seed per round shared by the candidate and its parent, so what the
 * seed decides cancels within the pair; for single runs one seed for the whole run, so every
 * candidate is compared at the seed its parent was measured with. Pure.
 */
import type { EvaluationRequest } from '../domain/evaluation.js';
import { calibrationSeeds, roundSeed } from './calibration.js';

export function benchSeeds(request: Pick<EvaluationRequest, 'runId' | 'experiment' | 'seeds'>, paired: boolean): (round: number) => number {
  const given = request.seeds;
  if (given !== undefined && given.length > 0) return (round) => given[Math.min(round, given.length) - 1]!;
  if (paired) return (round) => roundSeed(request.runId, request.experiment, round);
  // The calibration's first seed: a deterministic bench was measured with it at the baseline.
  const single = calibrationSeeds(request.runId)[0]!;
  return () => single;
}
