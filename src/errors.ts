/**
 * One error hierarchy with stable codes, mapped once to HTTP statuses,
 * GraphQL `extensions.code` and WebSocket close codes (DESIGN.md, Conventions).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { http: 500, close: 1011 },
  BAD_REQUEST: { http: 400, close: 4400 },
  AUTH_REQUIRED: { http: 401, close: 4401 },
  /** The token could not be checked right now (JWKS endpoint unreachable): retry later. */
  AUTH_UNAVAILABLE: { http: 503, close: 1013 },
  FORBIDDEN: { http: 403, close: 4403 },
  NOT_FOUND: { http: 404, close: 4404 },
  RATE_LIMITED: { http: 429, close: 4429 },
  TOO_MANY_CONNECTIONS: { http: 503, close: 1013 },
  SLOW_CONSUMER: { http: 503, close: 4008 },
  REPLAY_GAP: { http: 200, close: 1000 },
  SHUTTING_DOWN: { http: 503, close: 1001 },
} as const satisfies Record<string, { http: number; close: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RealtimeError extends Error {
  readonly code: ErrorCode;
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
}
