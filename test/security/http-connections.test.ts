import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { parsePrometheus, sampleValue } from '../helpers/ops.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { openLegacy, receivesMore } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Plain HTTP connections (connected, sending a request, idle between
 * requests) cost a file descriptor each, like a WebSocket. The server reaps
 * the ones that never finish a request (HTTP_HEADERS_TIMEOUT_MS,
 * HTTP_REQUEST_TIMEOUT_MS) or idle after one (HTTP_KEEPALIVE_TIMEOUT_MS) —
 * without cutting long-lived responses — and one address holds at most
 * MAX_CONNECTIONS_PER_IP of them, so one client cannot take every descriptor.
 */

interface RawConnection {
  readonly socket: Socket;
  /** Whether the server closed it (this side never does until the test ends). */
  readonly closed: boolean;
}

/** A TCP connection to the server from `localAddress` that sends nothing unless told to. */
async function rawConnection(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
  const socket = track(connect({ port, host: '127.0.0.1', localAddress }), (s) => s.destroy());
  socket.on('error', () => {});
  // Whatever the server answers is read and dropped, so its writes never wait on this side.
  socket.on('data', () => {});
  let closed = false;
  socket.once('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    get closed() {
      return closed;
    },
  };
}

/** GET on a fresh connection from `localAddress` (no keep-alive pool: nothing lingers to count). */
function get(port: number, path: string, localAddress = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path, localAddress, agent: false, headers: { connection: 'close' } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? -1, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** The server's socket gauges, scraped from an address that is not the one under test. */
async function socketGauges(server: TestServer, from: string) {
  const { samples } = parsePrometheus((await get(server.port, '/metrics', from)).body);
  return {
    plain: sampleValue({ samples }, 'aurigraph_http_sockets_open', { state: 'plain' }) ?? -1,
    refusedPerIp: sampleValue({ samples }, 'aurigraph_connections_refused_total', { reason: 'sockets-per-ip' }) ?? 0,
  };
}

describe('connections that never finish a request are closed by the server; long-lived responses are not', () => {
  const server = useTestServer({
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
    HTTP_KEEPALIVE_TIMEOUT_MS: '1000',
    METRICS_INTERVAL_MS: '100',
  });

  test('50 silent connections, a slow loris, a stalled body and an idle keep-alive connection are all closed; streams go on', async () => {
    // Long-lived, opened first: an SSE response on a GET and on a POST, and a WebSocket.
    const query = 'subscription { metrics { seq } }';
    const sseGet = sseProbe(server.http(`/graphql?query=${encodeURIComponent(query)}`), { method: 'GET' });
    const ssePost = sseProbe(server.http('/graphql'), { query });
    const legacy = await openLegacy(server, '/ws/metrics');
    await waitFor(() => sseGet.results.length > 0 && ssePost.results.length > 0 && legacy.frames.length > 0, {
      what: 'every stream to deliver',
    });

    const silent = await Promise.all(Array.from({ length: 50 }, () => rawConnection(server.port)));
    const slowLoris = await rawConnection(server.port);
    slowLoris.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const stalledBody = await rawConnection(server.port);
    stalledBody.socket.write(
      'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"qu',
    );
    const keepAlive = await rawConnection(server.port);
    keepAlive.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');

    // A hang guard many times the configured bounds (1–2 s): only a server that reaps them can pass.
    await waitFor(() => [...silent, slowLoris, stalledBody, keepAlive].every((c) => c.closed), {
      timeoutMs: 20_000,
      what: 'the server to close every connection that is not doing anything',
    });

    // Well past every bound, each stream still delivers.
    const before = { get: sseGet.results.length, post: ssePost.results.length };
    await receivesMore(legacy, 3, 'the WebSocket to keep streaming');
    await waitFor(() => sseGet.results.length > before.get + 2 && ssePost.results.length > before.post + 2, {
      what: 'both SSE responses to keep streaming',
    });
    expect([sseGet.ended, ssePost.ended, legacy.closeInfo]).toEqual([false, false, undefined]);
  }, 60_000);
});

describe('MAX_CONNECTIONS_PER_IP counts plain connections', () => {
  const server = useTestServer({
    MAX_CONNECTIONS_PER_IP: '5',
    // Long enough that nothing is reaped while the test holds its connections.
    HTTP_HEADERS_TIMEOUT_MS: '60000',
    HTTP_REQUEST_TIMEOUT_MS: '60000',
  });

  test('one address past the limit is closed on arrival; another address still connects and is served', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => rawConnection(server.port, '127.0.0.1')));
    await waitFor(async () => (await socketGauges(server, '127.0.0.3')).plain === 5, {
      what: 'the server to count five plain connections',
    });

    const sixth = await rawConnection(server.port, '127.0.0.1');
    await waitFor(() => sixth.closed, { what: 'the sixth connection from 127.0.0.1 to be closed by the server' });
    expect(held.some((c) => c.closed)).toBe(false);
    expect((await socketGauges(server, '127.0.0.3')).refusedPerIp).toBeGreaterThanOrEqual(1);

    // Another address: its own allowance, and its requests are served (the fifth connection from it).
    const other = await Promise.all(Array.from({ length: 4 }, () => rawConnection(server.port, '127.0.0.2')));
    expect(await get(server.port, '/health', '127.0.0.2')).toMatchObject({ status: 200 });
    await waitFor(async () => (await socketGauges(server, '127.0.0.3')).plain === 9, { what: 'nine plain connections held' });
    expect(other.some((c) => c.closed)).toBe(false);

    // A slot freed by a close is available again.
    held[0]?.socket.destroy();
    await waitFor(async () => (await get(server.port, '/health', '127.0.0.1')).status === 200, {
      what: 'a request from 127.0.0.1 once it holds fewer than five',
    });
  });
});

describe('behind a trusted proxy (TRUST_PROXY=true) every connection comes from the proxy', () => {
  const server = useTestServer({
    MAX_CONNECTIONS_PER_IP: '3',
    TRUST_PROXY: 'true',
    HTTP_HEADERS_TIMEOUT_MS: '60000',
    HTTP_REQUEST_TIMEOUT_MS: '60000',
  });

  test("plain connections are not capped per address: that would cap the proxy, not a client (the proxy's limit_conn does that)", async () => {
    const proxyPool = await Promise.all(Array.from({ length: 8 }, () => rawConnection(server.port)));
    expect(await get(server.port, '/health')).toMatchObject({ status: 200 });
    expect(proxyPool.some((c) => c.closed)).toBe(false);
  });
});
