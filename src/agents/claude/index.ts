/** The `claude` agent: what the rest of ratchet uses of it. */
export { ClaudeProposer, COMMAND_LOG_FILE, type ClaudeProposerOptions } from './loop.js';
export { checkClaudeReady, type ClaudeAgentSpec } from './client.js';
export { DEFAULT_PRICES, estimateNextCostUsd, priceFor, costUsd, type ModelPrice } from './pricing.js';
export { TRANSCRIPT_FILE } from './transcript.js';
