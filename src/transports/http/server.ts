import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Config } from '../../config.ts';

/**
 * The one HTTP(S) server every transport shares, with a bound on everything
 * a client can hold open without finishing a request:
 *
 * - `headersTimeout` (HTTP_HEADERS_TIMEOUT_MS): the header block must be
 *   complete this long after its first byte (Node answers 408 and closes);
 * - a connection that sends no byte at all is closed after the same time.
 *   Node's headersTimeout only starts with the first byte (measured on Node
 *   20: a silent connection lives forever), so the socket's own idle timer
 *   covers the gap until the first request or upgrade arrives;
 * - `requestTimeout` (HTTP_REQUEST_TIMEOUT_MS): the whole request, body
 *   included. It bounds receiving the request only: a response however long
 *   it streams (SSE, multipart) is never cut by it, and an upgraded socket
 *   leaves Node's checks;
 * - `keepAliveTimeout` (HTTP_KEEPALIVE_TIMEOUT_MS): idle between requests.
 *
 * Node checks the first two on a sweep (every 30 s by default, which would
 * let a connection live 40 s past a 10 s bound); here a quarter of the
 * headers bound, at most a second.
 */
export function createHttpServer(config: Pick<Config, 'http' | 'tls'>, listener: RequestListener): Server {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.http;
  const options = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
  };
  const server: Server = config.tls
    ? createHttpsServer(
        {
          ...options,
          // A TLS handshake that never finishes is bounded like a header block that never ends.
          handshakeTimeout: headersTimeoutMs,
          cert: readFileSync(config.tls.certFile),
          key: readFileSync(config.tls.keyFile),
        },
        listener,
      )
    : createServer(options, listener);
  // Node destroys a socket whose idle timer fires when nobody else handles 'timeout' (no request is on it yet).
  server.on(server instanceof HttpsServer ? 'secureConnection' : 'connection', (socket: Socket) => socket.setTimeout(headersTimeoutMs));
  // From the first request on, Node's own bounds apply (and its keep-alive timer); a WebSocket has its heartbeat.
  server.on('request', (request) => request.socket.setTimeout(0));
  server.on('upgrade', (request) => request.socket.setTimeout(0));
  return server;
}
