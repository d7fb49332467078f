import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { asRealtimeError, RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { Admission } from '../security/admission.ts';

/** A WebSocket endpoint: which paths it serves and what it checks before the handshake. */
export interface WebSocketEndpoint {
  readonly name: string;
  readonly wss: WebSocketServer;
  matches(pathname: string): boolean;
  /** Checks the request before the handshake (token, parameters); throws a RealtimeError to refuse it. */
  prepare?(request: IncomingMessage): void | Promise<void>;
}

/** Refuses an upgrade with a plain HTTP answer before any handshake, in the one JSON error shape. */
export function refuseUpgrade(socket: Duplex, error: RealtimeError, production: boolean): void {
  const { status, headers, body } = error.toHttp(production);
  const lines = Object.entries({ ...headers, connection: 'close', 'content-length': String(Buffer.byteLength(body)) }).map(
    ([name, value]) => `${name}: ${value}`,
  );
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** Closes every socket of an endpoint with 1001 (server draining) and waits for its server to close. */
export async function closeEndpoint(endpoint: WebSocketEndpoint): Promise<void> {
  for (const socket of endpoint.wss.clients) socket.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
  await new Promise<void>((resolve) => endpoint.wss.close(() => resolve()));
}

/**
 * Routes WebSocket upgrades by path, so graphql-ws and the legacy endpoints
 * share one port. Admission (origin and host, rates, connection limits) runs first, then
 * the endpoint's own checks; anything unrouted gets 404 before the handshake.
 */
export function routeUpgrades(
  server: Server,
  endpoints: readonly WebSocketEndpoint[],
  options: { accepting(): boolean; admission: Admission; logger: Logger; production: boolean },
): void {
  const { admission, logger, production } = options;
  const refuse = (socket: Duplex, error: RealtimeError, request: IncomingMessage) => {
    logger.debug({ code: error.code, url: request.url, reason: error.message }, 'upgrade refused');
    refuseUpgrade(socket, error, production);
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A peer that resets mid-handshake must not become an unhandled 'error'. A shared function, not a closure:
    // a closure here would keep this whole scope (the request, its headers, `head`) alive as long as the socket.
    socket.on('error', destroySocket);
    if (!options.accepting()) return refuse(socket, new RealtimeError('SHUTTING_DOWN', 'server is shutting down'), request);
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      return refuse(socket, new RealtimeError('BAD_REQUEST', 'unparsable request target'), request);
    }
    const endpoint = endpoints.find((candidate) => candidate.matches(pathname));
    if (!endpoint) return refuse(socket, new RealtimeError('NOT_FOUND', `no WebSocket endpoint at ${pathname.slice(0, 200)}`), request);
    let release: () => void;
    try {
      release = admission.admit(request);
    } catch (error) {
      return refuse(socket, asRealtimeError(error), request);
    }
    let handshaken = false;
    void (async () => {
      await endpoint.prepare?.(request);
      if (socket.destroyed) return release();
      // The TCP socket closes whether the handshake fails or the WebSocket ends later; release is idempotent.
      socket.once('close', release);
      endpoint.wss.handleUpgrade(request, socket, head, (ws) => {
        handshaken = true;
        endpoint.wss.emit('connection', ws, request);
      });
    })().catch((error: unknown) => {
      release();
      if (!(error instanceof RealtimeError)) logger.error({ err: error }, 'upgrade failed');
      // After a handshake the socket speaks WebSocket: an HTTP answer would only be garbage to the client.
      if (!handshaken) refuse(socket, asRealtimeError(error), request);
      else socket.destroy();
    });
  });
}
