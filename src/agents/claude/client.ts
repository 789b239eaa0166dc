/**
 * The Anthropic client for the `claude` agent: credentials and base URL from the environment
 * and the spec, checked before a run starts, and the SDK's own retries switched off (ours are
 * in retry.ts).
 *
 * Credentials: `ANTHROPIC_API_KEY`, else `ANTHROPIC_AUTH_TOKEN` (sent as a bearer token, for
 * gateways). With neither, a run may still go to a server named by `agent.base_url` or
 * `ANTHROPIC_BASE_URL` (llama.cpp, Ollama, vLLM need no key): the client then sends a
 * placeholder key. Credentials are always passed explicitly, so the SDK never falls back to
 * profiles on disk.
 */
import Anthropic from '@anthropic-ai/sdk';
import { UserError } from '../../domain/errors.js';
import type { Spec } from '../../domain/spec.js';
import { priceFor } from './pricing.js';

export type ClaudeAgentSpec = Extract<Spec['agent'], { kind: 'claude' }>;

/** Sent when a base URL server is used without credentials; such servers ignore it. */
export const PLACEHOLDER_KEY = 'ratchet-no-key';
/** One request's limit; long generations stream, so this bounds a stalled connection. */
export const REQUEST_TIMEOUT_MS = 10 * 60_000;

export type Credentials = { apiKey: string } | { authToken: string };

export interface ClaudeEndpoint {
  baseURL: string | undefined;
  credentials: Credentials | undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Where requests go and with which credentials; nothing is checked here. */
export function resolveEndpoint(agent: ClaudeAgentSpec, env: NodeJS.ProcessEnv): ClaudeEndpoint {
  const apiKey = nonEmpty(env['ANTHROPIC_API_KEY']);
  const authToken = nonEmpty(env['ANTHROPIC_AUTH_TOKEN']);
  const credentials = apiKey !== undefined ? { apiKey } : authToken !== undefined ? { authToken } : undefined;
  return { baseURL: agent.base_url ?? nonEmpty(env['ANTHROPIC_BASE_URL']), credentials };
}

/**
 * Fails before the run starts when the claude agent cannot authenticate or its base URL is
 * malformed. Returns warnings worth printing (a model without a price under a USD budget).
 */
export function checkClaudeReady(spec: Spec, env: NodeJS.ProcessEnv = process.env): { warnings: string[] } {
  const agent = spec.agent;
  if (agent.kind !== 'claude') return { warnings: [] };
  const endpoint = resolveEndpoint(agent, env);
  if (endpoint.baseURL !== undefined && !URL.canParse(endpoint.baseURL)) {
    throw new UserError(`ANTHROPIC_BASE_URL is not a URL: ${JSON.stringify(endpoint.baseURL)}`, {
      hint: 'set it to the root of a server that speaks the Messages API, e.g. http://127.0.0.1:8080',
    });
  }
  if (endpoint.credentials === undefined && endpoint.baseURL === undefined) {
    throw new UserError('the claude agent needs an Anthropic API key, and ANTHROPIC_API_KEY is not set', {
      hint: 'export ANTHROPIC_API_KEY=… (or ANTHROPIC_AUTH_TOKEN), or set agent.base_url / ANTHROPIC_BASE_URL to a local server that speaks the Messages API',
    });
  }
  const warnings: string[] = [];
  if (spec.budget.usd !== undefined && priceFor(agent.model, agent.prices) === undefined) {
    warnings.push(`no price is known for model ${agent.model}: its tokens count as $0 against budget.usd; set agent.prices.${agent.model}`);
  }
  return { warnings };
}

export interface ClientOverrides {
  /** Replaces the resolved base URL (tests point it at a local server). */
  baseURL?: string;
}

export function createClient(agent: ClaudeAgentSpec, env: NodeJS.ProcessEnv, overrides: ClientOverrides = {}): Anthropic {
  const endpoint = resolveEndpoint(agent, env);
  const credentials = endpoint.credentials ?? { apiKey: PLACEHOLDER_KEY };
  return new Anthropic({
    ...credentials,
    // null, not undefined: the SDK would otherwise read ANTHROPIC_BASE_URL itself, past `env`.
    baseURL: overrides.baseURL ?? endpoint.baseURL ?? null,
    maxRetries: 0,
    timeout: REQUEST_TIMEOUT_MS,
    // The SDK logs to the console by default; the transcript is ours.
    logLevel: 'off',
  });
}
