import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import type { StreamName } from '../streams/registry.ts';
import { RealtimeError } from '../errors.ts';

/** Who is on the other end of a connection, as far as a verified token says. */
export interface Principal {
  subject: string | undefined;
  /** `stream:<name>` or `stream:*` scopes, from the space-separated `scope` claim. */
  scopes: ReadonlySet<string>;
  /**
   * When connections on this token end, ms since epoch: the token's `exp` plus
   * the clock tolerance — the same moment verification starts refusing it, so
   * admission and expiry apply one clock rule on every transport.
   */
  expiresAt: number | undefined;
}

export interface Authenticator {
  readonly required: boolean;
  /** Verifies a bearer token (the raw `Authorization` value or the bare token). Throws AUTH_REQUIRED when invalid. */
  verify(credentials: string | null | undefined): Promise<Principal | undefined>;
}

/** Throws FORBIDDEN unless the principal may read the stream. With auth off, everyone may. */
export function authorizeStream(principal: Principal | undefined, required: boolean, stream: StreamName): void {
  if (!required) return;
  if (principal && (principal.scopes.has('stream:*') || principal.scopes.has(`stream:${stream}`))) return;
  throw new RealtimeError('FORBIDDEN', `the token's scope does not include stream:${stream}`, { stream });
}

function bearerToken(credentials: string): string {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(credentials);
  if (match) return match[1] as string;
  if (/\s/.test(credentials.trim())) throw new RealtimeError('AUTH_REQUIRED', 'expected "Bearer <token>"');
  return credentials.trim();
}

/**
 * JWT verification with jose: HS256 with AUTH_JWT_SECRET, or RS256/ES256 with
 * keys from AUTH_JWKS_URL (cached; refetched when an unknown `kid` appears,
 * at most every 30 s). With AUTH_MODE=none every request is anonymous and allowed.
 */
export function createAuthenticator(config: Config['auth']): Authenticator {
  if (config.mode === 'none') return { required: false, verify: async () => undefined };
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : undefined;
  const options = {
    algorithms: secret ? ['HS256'] : ['RS256', 'ES256'],
    clockTolerance: config.clockToleranceS,
    ...(config.issuer && { issuer: config.issuer }),
    ...(config.audience && { audience: config.audience }),
  };
  return {
    required: true,
    async verify(credentials) {
      if (!credentials) throw new RealtimeError('AUTH_REQUIRED', 'a bearer token is required');
      const token = bearerToken(credentials);
      try {
        const { payload } = secret ? await jwtVerify(token, secret, options) : await jwtVerify(token, jwks as JWTVerifyGetKey, options);
        const scope = typeof payload['scope'] === 'string' ? payload['scope'] : '';
        return {
          subject: payload.sub,
          scopes: new Set(scope.split(' ').filter(Boolean)),
          expiresAt: typeof payload.exp === 'number' ? (payload.exp + config.clockToleranceS) * 1000 : undefined,
        };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw new RealtimeError('TOKEN_EXPIRED', 'token expired');
        if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
          throw new RealtimeError('AUTH_UNAVAILABLE', 'the signing keys cannot be fetched; retry later');
        }
        if (error instanceof joseErrors.JOSEError) throw new RealtimeError('AUTH_REQUIRED', 'invalid token');
        // Network failures fetching the JWKS are not the token's fault.
        throw new RealtimeError('AUTH_UNAVAILABLE', 'the signing keys cannot be fetched; retry later');
      }
    },
  };
}

/** setTimeout holds at most 2^31 − 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `onExpired` when the principal's token expires (connections end then, so the client reconnects with a
 * fresh token and resumes by cursor). Returns the timer to clear when the connection ends first.
 */
export function whenTokenExpires(principal: Principal | undefined, onExpired: () => void): NodeJS.Timeout | undefined {
  if (principal?.expiresAt === undefined) return undefined;
  return setTimeout(onExpired, Math.min(MAX_TIMER_MS, Math.max(0, principal.expiresAt - Date.now()))).unref();
}
