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

/** The server's close codes a client reacts to (see the README, graphql-ws section). */
export const CLOSE = {
  GOING_AWAY: 1001,
  SLOW_CONSUMER: 4008,
  FORBIDDEN: 4403,
  TOO_MANY_MESSAGES: 4429,
} as const;

/** The 4403 reason that a fresh token fixes; every other 4403 (invalid or missing token) is final. */
export const TOKEN_EXPIRED_REASON = 'token expired';

/**
 * Closes no retry can fix: the protocol was broken (1002, 1003, 1007, 1008,
 * 1009, 1010, 4400, 4406, 4409) or the credentials were refused (4401, and 4403
 * unless the token merely expired).
 */
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4406, 4409]);

/** GraphQL error codes that mean "later", not "never" (anything else in an `error` message is final). */
const RETRYABLE_GRAPHQL_CODES = new Set(['RATE_LIMITED', 'TOO_MANY_CONNECTIONS']);

/**
 * Whether a failure reported by graphql-ws ends the subscription for good.
 * Network errors, drains (1001), slow-consumer closes (4008), expired tokens
 * (4403 'token expired') and server errors are retried; refused credentials,
 * protocol violations and GraphQL errors for the operation itself are not.
 */
export function isFatal(error: unknown): boolean {
  if (isCloseLike(error)) {
    if (error.code === CLOSE.FORBIDDEN) return error.reason !== TOKEN_EXPIRED_REASON;
    return FATAL_CLOSE_CODES.has(error.code);
  }
  if (Array.isArray(error)) {
    // An `error` message: the server refused the operation (validation, a bad filter, a missing scope).
    return !error.every((e: { extensions?: { code?: unknown } }) =>
      RETRYABLE_GRAPHQL_CODES.has(String(e?.extensions?.code)),
    );
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
