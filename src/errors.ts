import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CLOSE_CODES } from './protocol/close-codes.ts';

/**
 * One error hierarchy with stable codes, mapped once to an HTTP status, a
 * WebSocket close code and a GraphQL `extensions.code` (the code itself). Every
 * transport renders errors through this file, so the same cause looks the same
 * everywhere: one JSON body shape for HTTP, one close code per cause, one
 * masking rule for GraphQL results.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { http: 500, close: CLOSE_CODES.INTERNAL_ERROR },
  /** A malformed request, argument or protocol message: the client's mistake. */
  BAD_REQUEST: { http: 400, close: CLOSE_CODES.BAD_REQUEST },
  /** The document does not parse. */
  GRAPHQL_PARSE_FAILED: { http: 400, close: CLOSE_CODES.BAD_REQUEST },
  /** The document does not validate against the schema or the operation limits. */
  GRAPHQL_VALIDATION_FAILED: { http: 400, close: CLOSE_CODES.BAD_REQUEST },
  /** Variables that do not fit their declared types. */
  BAD_USER_INPUT: { http: 400, close: CLOSE_CODES.BAD_REQUEST },
  /** No token, or one that does not verify. */
  AUTH_REQUIRED: { http: 401, close: CLOSE_CODES.UNAUTHORIZED },
  /** The token expired (admission and open connections apply the same clock rule). */
  TOKEN_EXPIRED: { http: 401, close: CLOSE_CODES.TOKEN_EXPIRED },
  /** The token could not be checked right now (JWKS endpoint unreachable): retry later. */
  AUTH_UNAVAILABLE: { http: 503, close: CLOSE_CODES.TRY_AGAIN_LATER },
  FORBIDDEN: { http: 403, close: CLOSE_CODES.FORBIDDEN },
  NOT_FOUND: { http: 404, close: 4404 },
  METHOD_NOT_ALLOWED: { http: 405, close: CLOSE_CODES.BAD_REQUEST },
  NOT_ACCEPTABLE: { http: 406, close: CLOSE_CODES.BAD_REQUEST },
  CONFLICT: { http: 409, close: CLOSE_CODES.SUBSCRIBER_ALREADY_EXISTS },
  PAYLOAD_TOO_LARGE: { http: 413, close: CLOSE_CODES.MESSAGE_TOO_LARGE },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, close: CLOSE_CODES.BAD_REQUEST },
  /** Too many new connections or messages from one client: retry later. */
  RATE_LIMITED: { http: 429, close: CLOSE_CODES.TRY_AGAIN_LATER },
  /** More live operations on one connection than MAX_SUBSCRIPTIONS_PER_CONNECTION: end one first. */
  TOO_MANY_OPERATIONS: { http: 429, close: CLOSE_CODES.TRY_AGAIN_LATER },
  TOO_MANY_CONNECTIONS: { http: 503, close: CLOSE_CODES.TRY_AGAIN_LATER },
  /** The event bus (Redis) cannot take or carry events right now. */
  UNAVAILABLE: { http: 503, close: CLOSE_CODES.TRY_AGAIN_LATER },
  /** The subscriber fell too far behind; it resumes by cursor. */
  SLOW_CONSUMER: { http: 503, close: CLOSE_CODES.SLOW_CONSUMER },
  /** A resume could not be honoured without loss: a result, never a close. */
  REPLAY_GAP: { http: 200, close: 1000 },
  SHUTTING_DOWN: { http: 503, close: CLOSE_CODES.GOING_AWAY },
  /** A server fault; its message never reaches a client in production. */
  INTERNAL: { http: 500, close: CLOSE_CODES.INTERNAL_ERROR },
} as const satisfies Record<string, { http: number; close: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

const CLIENT_CODES = new Set<string>(Object.keys(ERROR_CODES).filter((code) => code !== 'INTERNAL' && code !== 'CONFIG_INVALID'));

/** What a client may see of an internal failure in production. */
export const MASKED_MESSAGE = 'Unexpected error.';

/** Seconds a client should wait before retrying a "come back later" answer. */
const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = {
  RATE_LIMITED: 1,
  TOO_MANY_CONNECTIONS: 5,
  AUTH_UNAVAILABLE: 5,
  UNAVAILABLE: 1,
  SHUTTING_DOWN: 1,
};

/** The one JSON body of every HTTP error answer (GraphQL-over-HTTP's shape, on every route). */
export interface ErrorBody {
  errors: GraphQLFormattedError[];
}

export class RealtimeError extends Error {
  readonly code: ErrorCode;
  /** Facts a client acts on (`argument`, `oldestCursor`, `problems`, …); they travel in `extensions`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'RealtimeError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get closeCode(): number {
    return ERROR_CODES[this.code].close;
  }

  /** As one entry of a GraphQL `errors` array. */
  toFormatted(production: boolean): GraphQLFormattedError {
    const internal = !CLIENT_CODES.has(this.code);
    return {
      message: internal && production ? MASKED_MESSAGE : this.message,
      extensions: internal && production ? { code: this.code } : { code: this.code, ...this.details },
    };
  }

  toGraphQLError(): GraphQLError {
    return new GraphQLError(this.message, { extensions: { code: this.code, ...this.details }, originalError: this });
  }

  /** Status, headers and the one JSON body shape for an HTTP answer. */
  toHttp(production: boolean): { status: number; headers: Record<string, string>; body: string } {
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
    const retryAfter = RETRY_AFTER_S[this.code];
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    if (this.code === 'AUTH_REQUIRED' || this.code === 'TOKEN_EXPIRED') {
      const description = this.message.replaceAll('"', "'");
      headers['www-authenticate'] = `Bearer realm="aurigraph-realtime", error="invalid_token", error_description="${description}"`;
    }
    if (this.code === 'METHOD_NOT_ALLOWED' && typeof this.details['allow'] === 'string') headers['allow'] = this.details['allow'];
    const body: ErrorBody = { errors: [this.toFormatted(production)] };
    return { status: this.httpStatus, headers, body: JSON.stringify(body) };
  }

  /** A WebSocket close frame: the cause's code and a reason within the protocol's 123 bytes. */
  toClose(): { code: number; reason: string } {
    return { code: this.closeCode, reason: truncateReason(this.message) };
  }
}

/** Close reasons are limited to 123 bytes of UTF-8 (RFC 6455 §5.5). */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Wraps anything thrown into a RealtimeError: ours pass through, the rest become INTERNAL. */
export function asRealtimeError(error: unknown): RealtimeError {
  if (error instanceof RealtimeError) return error;
  return new RealtimeError('INTERNAL', error instanceof Error ? error.message : String(error));
}

/**
 * The one masking function, used by every transport and by yoga. A client
 * mistake (syntax, validation, variables, a bad argument, a missing scope)
 * keeps its message and gets a code in every environment; anything else is a
 * server fault and reads `Unexpected error.` in production. `fallbackCode` is
 * the code for an uncoded GraphQL error from a phase that only reports client
 * mistakes (parse, validate, variable coercion). yoga's internal
 * `extensions.http` never leaves.
 */
export function toClientError(error: unknown, options: { production: boolean; fallbackCode?: ErrorCode }): GraphQLFormattedError {
  if (error instanceof RealtimeError) return error.toFormatted(options.production);
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    const where = {
      ...(error.locations && { locations: error.locations }),
      ...(error.path && { path: error.path }),
    };
    if (original instanceof RealtimeError) return { ...original.toFormatted(options.production), ...where };
    const { http: _internal, ...extensions } = error.extensions as Record<string, unknown>;
    const clientMistake = original === undefined || original === null || original instanceof GraphQLError;
    const code = typeof extensions['code'] === 'string' ? extensions['code'] : clientMistake ? options.fallbackCode : undefined;
    if (clientMistake && code !== undefined) {
      return { message: error.message, ...where, extensions: { ...extensions, code } };
    }
    if (clientMistake && !options.production) return { message: error.message, ...where, extensions: { ...extensions, code: 'INTERNAL' } };
    return {
      message: options.production ? MASKED_MESSAGE : error.message,
      ...where,
      extensions: { code: 'INTERNAL' },
    };
  }
  return asRealtimeError(error).toFormatted(options.production);
}
