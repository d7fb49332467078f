import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Config } from '../config.ts';
import { RealtimeError } from '../errors.ts';
import { createHostAllowList, createOriginGuard } from './origin.ts';
import { TokenBucket } from './token-bucket.ts';

/**
 * Who may open a long-lived connection (WebSocket upgrade or SSE stream),
 * decided before any handshake: browser origin and host, per-IP connection
 * rate (token bucket), per-IP and total concurrent connections. Counts are
 * kept here and released when the connection closes.
 *
 * It also counts the HTTP server's TCP sockets (`watch`): a socket that
 * carries no request and no stream ("plain": just connected, still sending
 * its request, or idle between requests) counts against its address's
 * MAX_CONNECTIONS_PER_IP; every socket counts against the socket bound
 * derived from the open-file limit. A socket past either is closed on
 * arrival, before it can hold a descriptor for long.
 */
export interface Admission {
  /** Throws FORBIDDEN / RATE_LIMITED / TOO_MANY_CONNECTIONS / SHUTTING_DOWN; returns a release function on success. */
  admit(request: IncomingMessage): () => void;
  /** The origin rule alone, for requests that run an operation without a long-lived connection (GraphQL over HTTP). Throws FORBIDDEN. */
  screen(request: IncomingMessage): void;
  /** Counts the server's sockets from now on (see above). Call once, before it listens. */
  watch(server: Server): void;
  /** From now on every new long-lived connection is refused with SHUTTING_DOWN (the drain has begun). */
  close(): void;
  /** Counts a connection the listener failed to accept (EMFILE/ENFILE): the kernel's refusal, not ours, but a refusal. */
  acceptFailed(): void;
  clientIp(request: IncomingMessage): string;
  /** Long-lived connections admitted and not released. */
  readonly open: () => number;
  /** The server's TCP sockets: all of them, and those carrying no request or stream. */
  readonly sockets: () => { open: number; plain: number };
  readonly limits: { readonly maxConnections: number; readonly maxSockets: number; readonly maxConnectionsPerIp: number };
  /** Refusals by reason: origin, host, rate, per-ip, max-connections, draining, sockets-per-ip, sockets, accept-failed. */
  readonly refused: ReadonlyMap<string, number>;
}

const BUCKET_IDLE_MS = 60_000;

/** What admission knows of one TCP socket of the server. */
interface SocketState {
  readonly ip: string;
  /** Requests on it whose response has not closed yet (a streaming response stays here as long as it streams). */
  inFlight: number;
  upgraded: boolean;
  closed: boolean;
  /** Whether it is counted as plain right now. */
  plain: boolean;
}

export function createAdmission(
  config: Pick<Config, 'limits' | 'corsOrigins'> & Partial<Pick<Config, 'allowedHosts' | 'auth'>>,
  now: () => number = Date.now,
): Admission {
  const { limits } = config;
  const guard = createOriginGuard({
    corsOrigins: config.corsOrigins,
    allowedHosts: createHostAllowList(config.allowedHosts ?? []),
    anonymousReads: (config.auth?.mode ?? 'none') === 'none',
    trustProxy: config.limits.trustProxy,
  });
  const { maxSockets } = limits;
  const buckets = new Map<string, TokenBucket>();
  const perIp = new Map<string, number>();
  const refused = new Map<string, number>();
  let open = 0;
  let closed = false;
  let lastSweep = now();

  const count = (reason: string) => refused.set(reason, (refused.get(reason) ?? 0) + 1);
  const refuse = (reason: string, error: RealtimeError): never => {
    count(reason);
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

  const screen = (request: IncomingMessage): void => {
    const refusal = guard.check(request);
    if (refusal) refuse(refusal.reason, refusal.error);
  };

  // Sockets: kept as counters, updated on the few events that change a socket's state, so nothing here walks a list.
  const sockets = new Map<Socket, SocketState>();
  const plainPerIp = new Map<string, number>();
  let plainTotal = 0;
  const settle = (state: SocketState) => {
    const plain = !state.closed && !state.upgraded && state.inFlight === 0;
    if (plain === state.plain) return;
    state.plain = plain;
    const delta = plain ? 1 : -1;
    plainTotal += delta;
    const left = (plainPerIp.get(state.ip) ?? 0) + delta;
    if (left <= 0) plainPerIp.delete(state.ip);
    else plainPerIp.set(state.ip, left);
  };
  // Behind a proxy every socket comes from the proxy: per-address socket counts would cap the proxy, not a client.
  const socketsPerIp = limits.trustProxy ? Number.POSITIVE_INFINITY : limits.maxConnectionsPerIp;
  const onSocket = (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    if (sockets.size >= maxSockets) {
      count('sockets');
      socket.destroy();
      return;
    }
    if ((plainPerIp.get(ip) ?? 0) >= socketsPerIp) {
      count('sockets-per-ip');
      socket.destroy();
      return;
    }
    const state: SocketState = { ip, inFlight: 0, upgraded: false, closed: false, plain: false };
    sockets.set(socket, state);
    settle(state);
    socket.once('close', () => {
      state.closed = true;
      sockets.delete(socket);
      settle(state);
    });
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const state = sockets.get(request.socket as Socket);
    if (!state) return;
    state.inFlight++;
    settle(state);
    response.once('close', () => {
      state.inFlight--;
      settle(state);
    });
  };
  const onUpgrade = (request: IncomingMessage) => {
    const state = sockets.get(request.socket as Socket);
    if (!state) return;
    // A refused upgrade is answered and closed; an accepted one is a long-lived connection admitted above.
    state.upgraded = true;
    settle(state);
  };

  return {
    clientIp,
    open: () => open,
    sockets: () => ({ open: sockets.size, plain: plainTotal }),
    limits: { maxConnections: limits.maxConnections, maxSockets, maxConnectionsPerIp: limits.maxConnectionsPerIp },
    refused,
    screen,
    close() {
      closed = true;
    },
    acceptFailed: () => count('accept-failed'),
    watch(server) {
      // HTTPS: the HTTP layer sees a socket once its TLS handshake is done (the handshake is bounded by handshakeTimeout).
      server.on(server instanceof HttpsServer ? 'secureConnection' : 'connection', onSocket);
      // Before the router and the upgrade routing: what they do (a /metrics scrape counting sockets) sees this request counted.
      server.prependListener('request', onRequest);
      server.prependListener('upgrade', onUpgrade);
    },
    admit(request) {
      if (closed) refuse('draining', new RealtimeError('SHUTTING_DOWN', 'server is shutting down'));
      screen(request);
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
