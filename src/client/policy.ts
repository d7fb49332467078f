import { FATAL_CLOSE_CODES } from '../protocol/close-codes.ts';
/**
 * What the kit retries and how long it waits. Pure functions, no timers, so
 * they are easy to test and to replace.
 */

export interface BackoffOptions {
  /** Delay before the first retry, ms. Default 250. */
  initialMs?: number;
  /** Upper bound of the delay, ms. Default 15 000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Share of the delay that is random, 0–1. Default 0.5: the delay is between
   * half and all of the exponential step, so clients dropped together by one
   * server restart do not all come back in the same millisecond.
   */
  jitter?: number;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialMs = 250, maxMs = 15_000, factor = 2, jitter = 0.5 } = options;
  const step = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  const share = Math.min(1, Math.max(0, jitter));
  return Math.round(step * (1 - share) + step * share * random());
}

/** A WebSocket close as graphql-ws reports it (a DOM CloseEvent, or ws's, or graphql-ws's TerminatedCloseEvent). */
export interface CloseLike {
  code: number;
  reason: string;
}

export function isCloseLike(value: unknown): value is CloseLike {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

/** The server's close codes (one per cause, every WebSocket transport; see the README's error table). */
export { CLOSE_CODES as CLOSE, FATAL_CLOSE_CODES } from '../protocol/close-codes.ts';

/** GraphQL error codes that mean "later", not "never" (anything else in an `error` message is final). */
const RETRYABLE_GRAPHQL_CODES = new Set(['RATE_LIMITED', 'TOO_MANY_CONNECTIONS', 'UNAVAILABLE', 'AUTH_UNAVAILABLE']);

/**
 * Whether a failure reported by graphql-ws ends the subscription for good.
 * Network errors, drains (1001), slow-consumer closes (4008), expired tokens
 * (4440: the reconnect asks `getToken` for a fresh one), try-again-later
 * (1013) and server errors are retried; refused credentials (4401, 4403),
 * protocol violations and GraphQL errors for the operation itself (a bad
 * filter, a missing scope, too many operations) are not.
 */
export function isFatal(error: unknown): boolean {
  if (isCloseLike(error)) return FATAL_CLOSE_CODES.has(error.code);
  if (Array.isArray(error)) {
    // An `error` message: the server refused the operation (validation, a bad filter, a missing scope).
    return !error.every((e: { extensions?: { code?: unknown } }) => RETRYABLE_GRAPHQL_CODES.has(String(e?.extensions?.code)));
  }
  // Error objects and DOM/ws error events: the connection could not be made or broke. Try again.
  return false;
}

/** A short description of a failure for logs and status lines. */
export function describeFailure(error: unknown): string {
  if (isCloseLike(error)) return `closed ${error.code}${error.reason ? ` ${error.reason}` : ''}`;
  if (Array.isArray(error)) return error.map((e: { message?: unknown }) => String(e?.message)).join('; ');
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String((error as { message: unknown }).message);
  if (typeof error === 'object' && error !== null && 'type' in error) return `socket ${String((error as { type: unknown }).type)}`;
  return String(error);
}
