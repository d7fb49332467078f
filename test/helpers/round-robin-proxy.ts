import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerUrls } from './server.ts';
import { track } from './track.ts';

/** One request the proxy passed on: where it went. */
export interface RoutedRequest {
  method: string;
  path: string;
  /** Index of the backend that got it. */
  backend: number;
}

export interface RoundRobinProxy extends ServerUrls {
  /** Every request so far, in arrival order. */
  readonly routed: RoutedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP balancer in miniature: each request (not each connection — clients
 * keep connections alive) goes to the next backend in turn, with no
 * stickiness of any kind, and streams its response back as it arrives (SSE and
 * multipart pass through unbuffered). What a round-robin nginx upstream or a
 * cloud load balancer does to a fleet.
 */
export async function startRoundRobinProxy(backends: readonly ServerUrls[]): Promise<RoundRobinProxy> {
  const routed: RoutedRequest[] = [];
  let next = 0;
  const server = createServer((incoming: IncomingMessage, outgoing) => {
    const backend = next++ % backends.length;
    routed.push({ method: incoming.method ?? 'GET', path: incoming.url ?? '/', backend });
    const target = new URL(incoming.url ?? '/', (backends[backend] as ServerUrls).http());
    const upstream = httpRequest(target, { method: incoming.method, headers: { ...incoming.headers, host: target.host } }, (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      outgoing.flushHeaders();
      response.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    // A client that goes away takes its upstream request with it, as a balancer's would.
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return track({
    routed,
    http: (path = '') => `http://127.0.0.1:${port}${path}`,
    ws: (path = '') => `ws://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
