import { connect } from 'node:net';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { afterEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { collect } from '../helpers/collect.ts';
import { httpErrorOf, openLegacy, refusedUpgrade } from '../helpers/legacy-client.ts';
import { probeStatus } from '../helpers/ops.ts';
import { rawUpgrade } from '../helpers/raw-tcp.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Graceful drain of the real process: `tsx src/main.ts` (what `npm start`
 * runs) as a child, stopped with SIGTERM while clients of every transport are
 * connected.
 */

/** Time allowed beyond SHUTDOWN_TIMEOUT_MS for the process to actually exit (tsx wrapper, exit hooks, a loaded CI box). */
const EXIT_SLACK_MS = 3000;

let child: ChildServer | undefined;
const disposers: (() => unknown)[] = [];
afterEach(async () => {
  await Promise.allSettled(disposers.splice(0).map((dispose) => dispose()));
  await child?.dispose();
  child = undefined;
});

// The clients from helpers/clients.ts take an in-process TestServer; these are the same clients, pointed at the child.
const wsClient = (server: ChildServer): WsClient => {
  const client = createWsClient({ url: server.ws('/graphql'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  disposers.push(() => client.dispose());
  return client;
};
const sseClient = (server: ChildServer, singleConnection: boolean): SseClient => {
  const client = createSseClient({
    url: server.http(singleConnection ? '/graphql/stream' : '/graphql'),
    singleConnection,
    retryAttempts: 0,
  });
  disposers.push(() => client.dispose());
  return client;
};

const isLog = (msg: string) => (line: Record<string, unknown>) => line.msg === msg;

/** Rejects if the child has not exited within `ms`. */
const exitWithin = (server: ChildServer, ms: number) =>
  Promise.race([
    server.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`process still running ${ms} ms after SIGTERM`)), ms).unref(),
    ),
  ]);

test('SIGTERM: graphql-ws subscribers complete, legacy sockets close 1001, SSE streams end, exit 0 in time', async () => {
  const shutdownTimeoutMs = 3000;
  child = await startChildServer({
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    SIM_TPS: '50',
    SIM_BLOCK_TIME_MS: '200',
    METRICS_INTERVAL_MS: '200',
  });
  const server = child;
  expect(await probeStatus(server.http('/health'))).toBe(200);
  expect(await probeStatus(server.http('/ready'))).toBe(200);

  const legacyMetrics = await openLegacy(server, '/ws/metrics');
  const legacyTx = await openLegacy(server, '/ws/transactions');
  disposers.push(() => legacyMetrics.ws.terminate(), () => legacyTx.ws.terminate());
  const gqlWs = wsClient(server);
  const wsTx = collect(gqlWs, 'subscription { transactions { txHash } }');
  const wsMetrics = collect(gqlWs, 'subscription { metrics { tps } }');
  const sseTx = collect(sseClient(server, false), 'subscription { transactions { txHash } }');
  const sseSingle = collect(sseClient(server, true), 'subscription { metrics { tps } }');
  const subscriptions = { wsTx, wsMetrics, sseTx, sseSingle };
  await waitFor(
    () =>
      legacyMetrics.frames.length >= 1 &&
      legacyTx.frames.length >= 1 &&
      Object.values(subscriptions).every((sub) => sub.results.length >= 1),
    { timeoutMs: 15_000, what: 'every client to receive events before the drain' },
  );

  const signalledAt = Date.now();
  server.signal('SIGTERM');
  await server.waitForLog(isLog('draining'));
  // From here the process refuses new work; it may already be gone, which is fine too.
  expect([503, 'unreachable']).toContain(await probeStatus(server.http('/ready')));

  const exit = await exitWithin(server, shutdownTimeoutMs + EXIT_SLACK_MS);
  expect(exit.code).toBe(0);
  expect(exit.signal).toBeNull();
  expect(exit.at - signalledAt).toBeLessThan(shutdownTimeoutMs + EXIT_SLACK_MS);

  expect((await legacyMetrics.closed).code).toBe(1001);
  expect((await legacyTx.closed).code).toBe(1001);
  for (const [name, sub] of Object.entries(subscriptions)) {
    await waitFor(() => sub.ended, { timeoutMs: 5000, what: `${name} to end` });
    expect(sub.error, `${name} ended without an error`).toBeUndefined();
    expect(sub.completed, `${name} completed`).toBe(true);
  }
  // Every client here cooperates, so the drain finishes on its own instead of running into
  // SHUTDOWN_TIMEOUT_MS and cutting connections (which the server logs as a warning).
  expect(server.logs.some(isLog('stopped'))).toBe(true);
  const timedOut = server.logs.filter((line) => typeof line.msg === 'string' && /timed out/.test(line.msg));
  expect(timedOut, 'the drain completed without hitting SHUTDOWN_TIMEOUT_MS').toEqual([]);
  // Gone: nothing answers on the port any more.
  expect(await probeStatus(server.http('/health'))).toBe('unreachable');
}, 60_000);

test('clients that never answer cannot keep the process alive past SHUTDOWN_TIMEOUT_MS', async () => {
  const shutdownTimeoutMs = 4000;
  child = await startChildServer({ SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) });
  const server = child;

  // Upgraded by hand and then silent: they never read, never answer the close handshake.
  const legacyHang = await rawUpgrade(server.port, '/ws/network');
  const graphqlHang = await rawUpgrade(server.port, '/graphql', { protocol: 'graphql-transport-ws' });
  expect([legacyHang.status, graphqlHang.status]).toEqual([101, 101]);
  legacyHang.socket.pause();
  graphqlHang.socket.pause();
  // Half an HTTP request: headers that never end.
  const slowLoris = connect(server.port, '127.0.0.1');
  slowLoris.on('error', () => {});
  await new Promise<void>((resolve) => slowLoris.once('connect', () => resolve()));
  slowLoris.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
  disposers.push(
    () => legacyHang.socket.destroy(),
    () => graphqlHang.socket.destroy(),
    () => slowLoris.destroy(),
  );

  const signalledAt = Date.now();
  server.signal('SIGTERM');
  await server.waitForLog(isLog('draining'));

  // The hanging clients hold the drain open, so the process is still there to ask.
  expect(await probeStatus(server.http('/ready'))).toBe(503);
  expect(await probeStatus(server.http('/health'))).toBe(200);
  for (const refused of [await refusedUpgrade(server.ws('/ws/metrics')), await refusedUpgrade(server.ws('/graphql'), 'graphql-transport-ws')]) {
    expect(refused.status).toBe(503);
    // The one JSON error body; clients come back after Retry-After (at another instance, or this one restarted).
    expect(httpErrorOf(refused.body).code).toBe('SHUTTING_DOWN');
    expect(refused.headers['retry-after']).toBeDefined();
  }
  expect(server.exit, 'still draining while the clients hang').toBeUndefined();

  const exit = await exitWithin(server, shutdownTimeoutMs + EXIT_SLACK_MS);
  expect(exit.code).toBe(0);
  expect(exit.at - signalledAt).toBeLessThan(shutdownTimeoutMs + EXIT_SLACK_MS);
  // The process is gone, so the kernel closed its ends; read again to notice.
  legacyHang.socket.resume();
  graphqlHang.socket.resume();
  await Promise.all([legacyHang.closed, graphqlHang.closed]);
}, 60_000);

test('a connection that has not sent a request yet does not hold the drain until SHUTDOWN_TIMEOUT_MS', async () => {
  // Browsers preconnect, and HTTP clients (undici, behind graphql-sse) reopen a pooled connection
  // after a stream ends: a TCP connection with no request in flight has nothing to finish.
  const shutdownTimeoutMs = 3000;
  child = await startChildServer({ SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) });
  const server = child;
  const preconnect = connect(server.port, '127.0.0.1');
  preconnect.on('error', () => {});
  disposers.push(() => preconnect.destroy());
  await new Promise<void>((resolve) => preconnect.once('connect', () => resolve()));

  server.signal('SIGTERM');
  const exit = await exitWithin(server, shutdownTimeoutMs + EXIT_SLACK_MS);
  expect(exit.code).toBe(0);
  const timedOut = server.logs.filter((line) => typeof line.msg === 'string' && /timed out/.test(line.msg));
  expect(timedOut, 'the drain completed without hitting SHUTDOWN_TIMEOUT_MS').toEqual([]);
}, 60_000);

test('/health and /ready answer 200 once the process has started', async () => {
  child = await startChildServer();
  const health = await fetch(child.http('/health'));
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });
  const ready = await fetch(child.http('/ready'));
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
  child.signal('SIGINT');
  expect((await exitWithin(child, 10_000 + EXIT_SLACK_MS)).code).toBe(0);
}, 60_000);
