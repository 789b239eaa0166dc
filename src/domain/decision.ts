/** What the pure rules (src/plan) conclude about a candidate: the bench's verdict and the holdout's figures. */
import type { Verdict } from './words.js';

export interface Decision {
  verdict: Verdict;
  reason: string;
  /** Candidate minus best, in metric units. */
  delta: number | undefined;
  /** delta / |best|, signed so that positive is always an improvement. */
  gain: number | undefined;
  /** Statistics of a noise-aware decision, for result.json and the log. */
  stats?: Record<string, number | string | boolean>;
}

/**
 * The holdout's figures for one candidate (recorded for the user, never shown to the agent):
 * its value, the parent's it was compared with, the change, and whether the rule held.
 */
export interface HoldoutResult {
  metric: number;
  /** The parent's value: measured beside it (A/B), or the one recorded when the parent was kept. */
  parent: number | undefined;
  /** (metric − parent) / |parent|, unsigned by goal: +4% is a rise. */
  change: number | undefined;
  rule: 'no_regress' | 'improve';
  passed: boolean;
  /** One line: the comparison and, when it failed, why. */
  reason: string;
  pairs?: number;
  p_value?: number;
}
