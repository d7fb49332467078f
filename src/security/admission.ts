import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.ts';
import { RealtimeError } from '../errors.ts';
import { TokenBucket } from './token-bucket.ts';

/**
 * Who may open a long-lived connection (WebSocket upgrade or SSE stream),
 * decided before any handshake: browser origin, per-IP connection rate (token
 * bucket), per-IP and total concurrent connections. Counts are kept here and
 * released when the connection closes.
 */
export interface Admission {
  /** Throws FORBIDDEN / RATE_LIMITED / TOO_MANY_CONNECTIONS; returns a release function on success. */
  admit(request: IncomingMessage): () => void;
  clientIp(request: IncomingMessage): string;
  readonly open: () => number;
  readonly refused: ReadonlyMap<string, number>;
}

const BUCKET_IDLE_MS = 60_000;

export function createAdmission(config: Pick<Config, 'limits' | 'corsOrigins'>, now: () => number = Date.now): Admission {
  const { limits } = config;
  const origins = new Set(config.corsOrigins);
  const buckets = new Map<string, TokenBucket>();
  const perIp = new Map<string, number>();
  const refused = new Map<string, number>();
  let open = 0;
  let lastSweep = now();

  const refuse = (reason: string, error: RealtimeError): never => {
    refused.set(reason, (refused.get(reason) ?? 0) + 1);
    throw error;
  };

  const clientIp = (request: IncomingMessage): string => {
    if (limits.trustProxy) {
      // The proxy appends the address it saw; anything left of it came from the client and can be forged.
      const forwarded = request.headers['x-forwarded-for'];
      const last = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim();
      if (last) return last;
    }
    return request.socket.remoteAddress ?? 'unknown';
  };

  const takeToken = (ip: string): boolean => {
    const at = now();
    if (at - lastSweep > BUCKET_IDLE_MS) {
      // Full buckets carry no information; dropping them keeps memory bounded under many distinct IPs.
      for (const [key, bucket] of buckets) if (bucket.isFull(at)) buckets.delete(key);
      lastSweep = at;
    }
    let bucket = buckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(limits.ratePerIp, limits.rateBurst, at);
      buckets.set(ip, bucket);
    }
    return bucket.take(at);
  };

  return {
    clientIp,
    open: () => open,
    refused,
    admit(request) {
      const origin = request.headers.origin;
      // Browsers always send Origin on WebSocket upgrades; other clients may not, and are not at risk of CSWSH.
      // The server's own pages (GraphiQL) are same-origin and always allowed.
      if (origin !== undefined && !origins.has(origin) && !isSameOrigin(origin, request)) {
        refuse('origin', new RealtimeError('FORBIDDEN', `origin ${origin.slice(0, 200)} is not allowed`));
      }
      const ip = clientIp(request);
      if (!takeToken(ip)) refuse('rate', new RealtimeError('RATE_LIMITED', 'too many new connections from this address'));
      if (open >= limits.maxConnections) {
        refuse('max-connections', new RealtimeError('TOO_MANY_CONNECTIONS', 'the server is at its connection limit'));
      }
      const current = perIp.get(ip) ?? 0;
      if (current >= limits.maxConnectionsPerIp) {
        refuse('per-ip', new RealtimeError('RATE_LIMITED', 'too many open connections from this address'));
      }
      perIp.set(ip, current + 1);
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open--;
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left <= 0) perIp.delete(ip);
        else perIp.set(ip, left);
      };
    },
  };
}

function isSameOrigin(origin: string, request: IncomingMessage): boolean {
  const host = request.headers.host;
  if (!host) return false;
  const secure = 'encrypted' in request.socket && Boolean(request.socket.encrypted);
  return origin === `${secure ? 'https' : 'http'}://${host}`;
}
