import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { WebSocketServer } from 'ws';
import { RealtimeError } from '../errors.ts';

export interface WebSocketEndpoint {
  readonly wss: WebSocketServer;
  connections(): number;
  dispose(): Promise<void>;
}

export interface UpgradeRoute {
  /**
   * The endpoint for this request, an error to refuse it with (before the
   * handshake), or undefined to try the next route.
   */
  match(pathname: string, request: IncomingMessage): WebSocketEndpoint | RealtimeError | undefined;
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
 * share one port. Anything unrouted gets 404 before the handshake.
 */
export function routeUpgrades(
  server: Server,
  routes: readonly UpgradeRoute[],
  options: { accepting(): boolean },
): void {
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
    for (const route of routes) {
      const endpoint = route.match(pathname, request);
      if (endpoint instanceof RealtimeError) return refuseUpgrade(socket, endpoint.httpStatus, endpoint.message);
      if (endpoint) {
        endpoint.wss.handleUpgrade(request, socket, head, (ws) => endpoint.wss.emit('connection', ws, request));
        return;
      }
    }
    refuseUpgrade(socket, 404, `no WebSocket endpoint at ${pathname}`);
  });
}
