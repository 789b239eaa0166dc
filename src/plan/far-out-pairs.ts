/**
 * Far-out pairs. A stall, a GC storm or a noisy neighbour in one run of a pair puts its paired
 * log-ratio tens of noise SDs away from the others. Such a pair says nothing about the candidate,
 * yet it widens the bootstrap (resamples with two copies of it move the estimate) and spends the
 * largest rank of the signed-rank test on a coin flip. The rule sets it aside and the adaptive
 * policy measures another pair in its place, within the same `roundCap`.
 *
 * Setting aside must never help a no-op win, so it is symmetric and capped: a pair is far out by
 * its distance from the median of all pairs, whichever side it lies on, and only a few may go.
 * Flipping the sign of every difference sets aside the same pairs.
 */
import { median } from './stats.js';

/** How far from the median, in robust SDs (1.4826 × the median absolute deviation), a pair is far out. */
export const FAR_OUT_SDS = 6;

/** At most one measured pair in this many is set aside: stalls are rare, or they are the metric. */
export const SET_ASIDE_ONE_IN = 5;

/**
 * Distances below this (in log-ratio) never count: equal pairs differ in their last bits, and a
 * median absolute deviation of 0 would make every one of those far out.
 */
const NEGLIGIBLE = 1e-9;

/** 1 / Φ⁻¹(0.75): the median absolute deviation of normal values times this is their SD. */
const MAD_TO_SD = 1.482602218505602;

/**
 * The indices (in measuring order) of the pairs to set aside: those further than FAR_OUT_SDS
 * robust SDs from the median of `diffs`, the furthest first, at most `cap` of them.
 */
export function farOutPairs(diffs: readonly number[], cap: number): number[] {
  if (cap <= 0 || diffs.length === 0) return [];
  const centre = median(diffs);
  // Rounded, so that pairs as far out on either side tie (and go by measuring order) instead of
  // by float noise: a mirror image of the pairs sets aside the same ones.
  const distance = diffs.map((d) => Number(Math.abs(d - centre).toPrecision(12)));
  const sd = MAD_TO_SD * median(distance);
  const limit = Number(Math.max(FAR_OUT_SDS * sd, NEGLIGIBLE).toPrecision(12));
  return distance
    .map((dist, i) => ({ dist, i }))
    .filter((d) => d.dist > limit)
    .sort((a, b) => b.dist - a.dist || a.i - b.i)
    .slice(0, cap)
    .map((d) => d.i)
    .sort((a, b) => a - b);
}

/**
 * How many of `measured` pairs may be set aside: one in SET_ASIDE_ONE_IN, and never so many that
 * fewer than `repeat` would be left once `most` pairs are measured, so that a bench stopped at
 * its cap always rests its decision on at least `repeat` pairs.
 */
export function setAsideCap(measured: number, repeat: number, most: number): number {
  return Math.max(0, Math.min(Math.floor(measured / SET_ASIDE_ONE_IN), most - repeat));
}
