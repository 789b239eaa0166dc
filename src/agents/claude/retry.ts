/**
 * Retries of Messages API calls: our own loop (the SDK's is switched off) so that every retry is
 * in the transcript, honours `retry-after`, stops at once on abort, and ends as data: a proposal
 * that exhausts its retries is a `crash` with a reason, never an exception.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, AnthropicError } from '@anthropic-ai/sdk';
import { AbortedError, UserError, isAbortError } from '../../domain/errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt (`agent.max_retries`). */
  maxRetries: number;
  /** First backoff; doubles with each retry. */
  baseDelayMs: number;
  /** Cap of one wait, a server's `retry-after` included. */
  maxDelayMs: number;
  /** Source of jitter, [0, 1). */
  random?: () => number;
}

export const DEFAULT_RETRY: Omit<RetryPolicy, 'maxRetries'> = { baseDelayMs: 1_000, maxDelayMs: 60_000 };

/** What went wrong with one call, in words the history and the user can read. */
export interface ApiFailure {
  retryable: boolean;
  /** `overloaded (529)`, `rate limited (429)`, `connection error`, `bad request (400): …` */
  label: string;
  status: number | undefined;
  /** The server's `retry-after`, in milliseconds, when it sent one. */
  retryAfterMs: number | undefined;
  message: string;
}

export type RetryResult<T> = { ok: true; value: T } | { ok: false; reason: string; failure: ApiFailure };

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  failure: ApiFailure;
}

const STATUS_LABELS: Record<number, string> = {
  400: 'bad request',
  408: 'request timeout',
  409: 'conflict',
  413: 'request too large',
  429: 'rate limited',
  500: 'server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
  529: 'overloaded',
};

// Error types a stream can report after a 200 (an `event: error`), which carry no status.
const STREAM_ERROR_TYPES: Record<string, { status: number; retryable: boolean }> = {
  overloaded_error: { status: 529, retryable: true },
  rate_limit_error: { status: 429, retryable: true },
  api_error: { status: 500, retryable: true },
  timeout_error: { status: 504, retryable: true },
};

/**
 * Classifies an error of the SDK. An abort is rethrown as AbortedError; a rejected key or a
 * model the server does not know is a UserError (every proposal would fail the same way, so
 * the run should stop and say so); anything else is data.
 */
export function classifyApiError(error: unknown): ApiFailure {
  if (error instanceof APIUserAbortError || isAbortError(error)) throw new AbortedError();
  if (error instanceof APIConnectionTimeoutError) return failure(true, 'request timed out', undefined, undefined, error.message);
  if (error instanceof APIConnectionError) return failure(true, 'connection error', undefined, undefined, causeMessage(error));
  if (error instanceof APIError) {
    // The SDK's generic defaults leave these loosely typed; they are what the response said.
    const httpStatus = error.status as number | undefined;
    const headers = error.headers as Headers | undefined;
    const apiMessage = error.apiMessage ?? error.message;
    const mapped = httpStatus === undefined && error.type !== null ? STREAM_ERROR_TYPES[error.type] : undefined;
    const status = httpStatus ?? mapped?.status;
    if (status === 401 || status === 403) {
      throw new UserError(`the Anthropic API refused the credentials (${status}): ${apiMessage}`, {
        hint: 'check ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) and agent.base_url',
        cause: error,
      });
    }
    if (status === 404) {
      throw new UserError(`the Anthropic API answered 404: ${apiMessage}`, {
        hint: 'check agent.model and agent.base_url (a base URL is the server root, without /v1/messages)',
        cause: error,
      });
    }
    const retryable = mapped?.retryable ?? (status !== undefined && (status === 408 || status === 409 || status === 429 || status >= 500));
    const name = status === undefined ? (error.type ?? 'error') : (STATUS_LABELS[status] ?? (status >= 500 ? 'server error' : 'error'));
    const label = status === undefined ? name : `${name} (${status})`;
    return failure(retryable, retryable ? label : `${label}: ${apiMessage}`, status, retryAfterMs(headers), apiMessage);
  }
  // The SDK's own complaints (a response it cannot parse): this call failed, retrying won't help.
  if (error instanceof AnthropicError) return failure(false, error.message, undefined, undefined, error.message);
  throw error;
}

function failure(retryable: boolean, label: string, status: number | undefined, retryAfter: number | undefined, message: string): ApiFailure {
  return { retryable, label, status, retryAfterMs: retryAfter, message };
}

function causeMessage(error: APIConnectionError): string {
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter (between half and all of the step), or the server's wish. */
export function retryDelayMs(retry: number, policy: RetryPolicy, retryAfter: number | undefined): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, policy.maxDelayMs);
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(step * (0.5 + 0.5 * (policy.random ?? Math.random)()));
}

/** Runs `call` until it succeeds, fails for good, or runs out of retries; waits are abortable. */
export async function withRetries<T>(
  call: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal,
  onRetry: (event: RetryEvent) => Promise<void> | void,
): Promise<RetryResult<T>> {
  for (let retry = 0; ; retry += 1) {
    if (signal.aborted) throw new AbortedError();
    let apiFailure: ApiFailure;
    try {
      return { ok: true, value: await call() };
    } catch (error) {
      apiFailure = classifyApiError(error);
    }
    if (!apiFailure.retryable) return { ok: false, reason: `Anthropic API: ${apiFailure.label}`, failure: apiFailure };
    if (retry >= policy.maxRetries) {
      const reason = `Anthropic API: ${apiFailure.label} after ${retry} ${retry === 1 ? 'retry' : 'retries'}`;
      return { ok: false, reason, failure: apiFailure };
    }
    const delayMs = retryDelayMs(retry, policy, apiFailure.retryAfterMs);
    await onRetry({ attempt: retry + 1, delayMs, failure: apiFailure });
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      throw new AbortedError();
    }
  }
}
