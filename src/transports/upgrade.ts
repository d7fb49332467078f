import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { WebSocketServer } from 'ws';
import { RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { Admission } from '../security/admission.ts';

export interface WebSocketEndpoint {
  readonly wss: WebSocketServer;
  connections(): number;
  dispose(): Promise<void>;
}

export interface UpgradeRoute {
  /**
   * The endpoint for this request, an error to refuse it with (before the
   * handshake), or undefined to try the next route. May be async (legacy
   * endpoints verify tokens here).
   */
  match(
    pathname: string,
    request: IncomingMessage,
  ): WebSocketEndpoint | RealtimeError | undefined | Promise<WebSocketEndpoint | RealtimeError | undefined>;
}

/** Refuses an upgrade with a plain HTTP answer before any handshake. */
export function refuseUpgrade(socket: Duplex, status: number, message?: string): void {
  const body = message ?? STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Routes WebSocket upgrades by path, so graphql-ws and the legacy endpoints
 * share one port. Admission (origin, rates, connection limits) runs first;
 * anything unrouted gets 404 before the handshake.
 */
export function routeUpgrades(
  server: Server,
  routes: readonly UpgradeRoute[],
  options: { accepting(): boolean; admission: Admission; logger: Logger },
): void {
  const refuse = (socket: Duplex, error: RealtimeError, request: IncomingMessage) => {
    options.logger.debug({ code: error.code, url: request.url, reason: error.message }, 'upgrade refused');
    refuseUpgrade(socket, error.httpStatus, error.message);
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A peer that resets mid-handshake must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    if (!options.accepting()) return refuseUpgrade(socket, 503, 'server is shutting down');
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      return refuseUpgrade(socket, 400);
    }
    let release: () => void;
    try {
      release = options.admission.admit(request);
    } catch (error) {
      if (error instanceof RealtimeError) return refuse(socket, error, request);
      throw error;
    }
    let handshaken = false;
    void (async () => {
      for (const route of routes) {
        const endpoint = await route.match(pathname, request);
        if (endpoint instanceof RealtimeError) {
          release();
          return refuse(socket, endpoint, request);
        }
        if (endpoint) {
          if (socket.destroyed) return release();
          // The TCP socket closes whether the handshake fails or the WebSocket ends later; release is idempotent.
          socket.once('close', release);
          endpoint.wss.handleUpgrade(request, socket, head, (ws) => {
            handshaken = true;
            endpoint.wss.emit('connection', ws, request);
          });
          return;
        }
      }
      release();
      refuse(socket, new RealtimeError('NOT_FOUND', `no WebSocket endpoint at ${pathname}`), request);
    })().catch((error: unknown) => {
      release();
      options.logger.error({ err: error }, 'upgrade failed');
      // After a handshake the socket speaks WebSocket: an HTTP answer would only be garbage to the client.
      if (!handshaken) refuseUpgrade(socket, 500);
      else socket.destroy();
    });
  });
}
