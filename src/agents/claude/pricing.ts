/**
 * What a proposal costs: token usage summed over the calls of one experiment, priced from a
 * table of USD per million tokens keyed by model id prefix. `agent.prices` in the spec adds
 * to and overrides the built-in table, so a new model or a negotiated rate needs no release.
 */
import type { Usage } from '../../domain/words.js';

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Cache hits; 0.1 × input when not given. */
  cache_read?: number | undefined;
  /** 5-minute cache writes (what `cache_control: ephemeral` makes); 1.25 × input when not given. */
  cache_write?: number | undefined;
}

/**
 * Published list prices (platform.claude.com pricing page, mid 2026). The longest matching
 * prefix wins, so `claude-opus-4-1` is priced apart from `claude-opus-4-5`, and a dated id
 * (`claude-sonnet-4-5-20250929`) or a newer point release falls back to its family's price.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-fable-5': { input: 10, output: 50, cache_write: 12.5, cache_read: 1 },
  'claude-fable-5-1': { input: 10, output: 50, cache_write: 12.5, cache_read: 0.25 },
  'claude-mythos-5': { input: 10, output: 50, cache_write: 12.5, cache_read: 1 },
  'claude-mythos-5-1': { input: 10, output: 50, cache_write: 12.5, cache_read: 0.25 },
  'claude-opus-5': { input: 5, output: 25 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4-5': { input: 5, output: 25 },
  'claude-opus-4-6': { input: 5, output: 25 },
  'claude-opus-4-7': { input: 5, output: 25 },
  'claude-opus-4-8': { input: 5, output: 25 },
  'claude-sonnet-5': { input: 3, output: 15 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-haiku-5': { input: 1, output: 5 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-haiku': { input: 0.25, output: 1.25, cache_write: 0.3, cache_read: 0.03 },
  // Families, for ids newer than this table: priced like the family's latest known release.
  'claude-fable': { input: 10, output: 50, cache_write: 12.5, cache_read: 1 },
  'claude-mythos': { input: 10, output: 50, cache_write: 12.5, cache_read: 1 },
  'claude-opus': { input: 5, output: 25 },
  'claude-sonnet': { input: 3, output: 15 },
  'claude-haiku': { input: 1, output: 5 },
};

export const ZERO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };

/**
 * The price of `model`: the longest prefix of it among `overrides` (the spec's `agent.prices`),
 * else among the defaults; undefined for a model nobody priced (a local server's model).
 */
export function priceFor(model: string, overrides: Readonly<Record<string, ModelPrice>> = {}): ModelPrice | undefined {
  return longestPrefix(model, overrides) ?? longestPrefix(model, DEFAULT_PRICES);
}

function longestPrefix(model: string, table: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : table[best];
}

/** The token counts of one API response, as the Messages API reports them. */
export interface ApiUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Usage and cost of one call; cost 0 when the model has no price. */
export function usageOf(api: ApiUsage, price: ModelPrice | undefined): Usage {
  const usage: Usage = {
    inputTokens: api.input_tokens,
    outputTokens: api.output_tokens,
    cacheReadTokens: api.cache_read_input_tokens ?? 0,
    cacheWriteTokens: api.cache_creation_input_tokens ?? 0,
    costUsd: 0,
  };
  return { ...usage, costUsd: price === undefined ? 0 : costUsd(usage, price) };
}

/** USD for `usage` at `price` (its own costUsd is ignored). */
export function costUsd(usage: Omit<Usage, 'costUsd'>, price: ModelPrice): number {
  const cacheRead = price.cache_read ?? price.input * 0.1;
  const cacheWrite = price.cache_write ?? price.input * 1.25;
  return (
    (usage.inputTokens * price.input +
      usage.outputTokens * price.output +
      usage.cacheReadTokens * cacheRead +
      usage.cacheWriteTokens * cacheWrite) /
    1_000_000
  );
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    costUsd: a.costUsd + b.costUsd,
  };
}

/**
 * What the next proposal will probably cost, for `budget.usd`: the mean cost of the most recent
 * `window` proposals that cost anything (0 before the first). The mean, not the maximum: the
 * budget stops the run before a proposal that would likely pass it, and one expensive outlier
 * should not end a run that has plenty left.
 */
export function estimateNextCostUsd(historyUsages: readonly (Usage | undefined)[], window = 10): number {
  const costs = historyUsages.map((u) => u?.costUsd ?? 0).filter((c) => c > 0).slice(-window);
  return costs.length === 0 ? 0 : costs.reduce((sum, c) => sum + c, 0) / costs.length;
}
