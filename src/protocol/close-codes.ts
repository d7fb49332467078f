/**
 * Every WebSocket close code this server sends, on every WebSocket transport
 * (graphql-ws, subscriptions-transport-ws, legacy `/ws/*`). One cause, one code.
 * The rule: a cause that has an HTTP status closes with 4000 + that status,
 * except where graphql-ws already gave the number another meaning; causes
 * that say "come back later" use RFC 6455's 1013. No dependencies: the
 * browser client kit imports this file too.
 */
export const CLOSE_CODES = {
  /** The server is draining (restart, deploy): reconnect, resume by cursor. */
  GOING_AWAY: 1001,
  /** A client message was larger than the server accepts. */
  MESSAGE_TOO_LARGE: 1009,
  /** A server fault. */
  INTERNAL_ERROR: 1011,
  /**
   * Try again later: rate limited (too many messages), the server is at its
   * connection limit, or the token's signing keys cannot be fetched right now.
   * Not graphql-ws's 4429, which means "too many connection_init" and which the
   * stock graphql-ws client treats as fatal.
   */
  TRY_AGAIN_LATER: 1013,
  /** The subscriber fell too far behind the stream: reconnect and resume by cursor. */
  SLOW_CONSUMER: 4008,
  /** A message broke the protocol (graphql-ws: invalid message, or a server-only type). */
  BAD_REQUEST: 4400,
  /** No token, or a token that does not verify. A retry with the same token cannot succeed. */
  UNAUTHORIZED: 4401,
  /** The token is valid but does not allow this. */
  FORBIDDEN: 4403,
  /** The client offered no WebSocket subprotocol this path speaks. */
  SUBPROTOCOL_NOT_ACCEPTABLE: 4406,
  /** graphql-ws: no connection_init within CONNECTION_INIT_TIMEOUT_MS. */
  INIT_TIMEOUT: 4408,
  /** graphql-ws: a subscribe reused the id of an operation still running. */
  SUBSCRIBER_ALREADY_EXISTS: 4409,
  /** graphql-ws: a second connection_init (its own meaning of 4429). */
  TOO_MANY_INIT_REQUESTS: 4429,
  /**
   * The token expired on an open connection (4000 + IIS's 440 "Login Time-out"):
   * reconnect with a fresh token and resume by cursor. The stock graphql-ws
   * client retries it; with a `connectionParams` function it sends a new token.
   */
  TOKEN_EXPIRED: 4440,
} as const;

export type CloseCodeName = keyof typeof CLOSE_CODES;

/**
 * Closes a retry cannot fix: the protocol was broken, or the credentials were
 * refused. Everything else (drain, slow consumer, expired token, try-again-later,
 * network failures, server errors) is worth a reconnect with backoff.
 */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  1002,
  1003,
  1007,
  1008,
  CLOSE_CODES.MESSAGE_TOO_LARGE,
  1010,
  CLOSE_CODES.BAD_REQUEST,
  CLOSE_CODES.UNAUTHORIZED,
  CLOSE_CODES.FORBIDDEN,
  CLOSE_CODES.SUBPROTOCOL_NOT_ACCEPTABLE,
  CLOSE_CODES.SUBSCRIBER_ALREADY_EXISTS,
  CLOSE_CODES.TOO_MANY_INIT_REQUESTS,
]);
