import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Publish } from '../../src/bus/bus.ts';
import { connectionCapacity, descriptorReserve, openFileLimit } from '../../src/security/capacity.ts';
import { createMetricsTicker } from '../../src/sources/metrics-ticker.ts';
import { startChildServer, type ChildLaunch, type ChildServer } from '../helpers/child-server.ts';
import { probeStatus, sampleValue, scrape } from '../helpers/ops.ts';
import { TEST_LIMITS_ENV } from '../helpers/server.ts';
import { GRAPHQL_WS_PROTOCOL, httpErrorOf, openLegacy, receivesMore, tryUpgrade, type UpgradeOutcome } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The open-file limit. Every connection is a descriptor, and so is every
 * /proc read: at the limit `accept` and process.memoryUsage() fail with
 * EMFILE. The server must refuse connections cleanly (503 before the
 * handshake) before it gets there, and survive EMFILE wherever it happens
 * anyway — here a child server under `ulimit -n 256`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE_LIMIT = 256;

/**
 * `node --import tsx src/main.ts` under `ulimit -n <limit>` (soft and hard). `inherited` descriptors are opened by
 * the shell and inherited by the server — used by something the server did not count, like a leak elsewhere in the
 * process would be.
 */
function limitedLaunch(limit: number, inherited = 0): ChildLaunch {
  const open = inherited > 0 ? `for fd in $(seq 100 ${99 + inherited}); do eval "exec $fd</dev/null"; done; ` : '';
  return { command: 'bash', args: ['-c', `ulimit -n ${limit} && ${open}exec "$0" --import tsx src/main.ts`, process.execPath], cwd: ROOT };
}

/** Client limits lifted (the test opens hundreds of connections from one address); MAX_CONNECTIONS left to its default. */
const { MAX_CONNECTIONS: _default, ...LIFTED } = TEST_LIMITS_ENV;
const ENV = { ...LIFTED, METRICS_INTERVAL_MS: '50', SIM_TPS: '20', SIM_BLOCK_TIME_MS: '200' };

/** A TCP connection that sends nothing; `closed` tells whether the server (or the kernel for it) closed it. */
async function silentConnection(port: number): Promise<{ socket: Socket; readonly closed: boolean }> {
  const socket = track(connect(port, '127.0.0.1'), (s) => s.destroy());
  socket.on('error', () => {});
  socket.on('data', () => {});
  let closed = false;
  socket.once('close', () => (closed = true));
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return {
    socket,
    get closed() {
      return closed;
    },
  };
}

const alive = (server: ChildServer) => server.exit === undefined;

describe('MAX_CONNECTIONS derives from the open-file limit', () => {
  test('reads the soft limit from /proc/self/limits; unknown where it cannot', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max open files            1024                 524288               files',
    ].join('\n');
    expect(openFileLimit(() => limits)).toBe(1024);
    expect(openFileLimit(() => 'Max open files            unlimited            unlimited            files')).toBeUndefined();
    expect(
      openFileLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  test('the default is lowered to fit, an explicit value above it is lowered too (and reported); the socket bound sits between', () => {
    expect(descriptorReserve(256)).toBe(128);
    expect(descriptorReserve(20_000)).toBe(1000);
    expect(connectionCapacity({ requested: undefined, fallback: 10_000, openFileLimit: 256 })).toEqual({
      maxConnections: 128,
      maxSockets: 192,
      openFileLimit: 256,
    });
    expect(connectionCapacity({ requested: undefined, fallback: 10_000, openFileLimit: 1_048_576 }).maxConnections).toBe(10_000);
    expect(connectionCapacity({ requested: 50_000, fallback: 10_000, openFileLimit: 20_000 })).toEqual({
      maxConnections: 19_000,
      maxSockets: 19_500,
      openFileLimit: 20_000,
      maxConnectionsRequested: 50_000,
    });
    expect(connectionCapacity({ requested: 100, fallback: 10_000, openFileLimit: 20_000 }).maxConnections).toBe(100);
    expect(connectionCapacity({ requested: 100, fallback: 10_000, openFileLimit: undefined }).maxConnections).toBe(100);
  });
});

describe('the metrics ticker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('survives a memory reading that throws EMFILE: it reports it, publishes the last reading, and recovers', () => {
    let failing = false;
    const errors: unknown[] = [];
    const published: { memory: number }[] = [];
    const ticker = createMetricsTicker({
      intervalMs: 100,
      observeTransactions: () => () => {},
      connections: () => 0,
      readRssBytes: () => {
        if (failing) throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
        return 64 * 1024 * 1024;
      },
      onError: (error) => errors.push(error),
    });
    const publish: Publish = (_stream, event) => {
      published.push(event as { memory: number });
    };
    void ticker.start(publish);
    vi.advanceTimersByTime(100);
    failing = true;
    // Timers run the tick: a throw here would be an uncaught exception in a real process.
    expect(() => vi.advanceTimersByTime(300)).not.toThrow();
    failing = false;
    vi.advanceTimersByTime(100);
    void ticker.stop();
    expect(published.map((p) => p.memory)).toEqual([64, 64, 64, 64, 64]);
    expect(errors).toHaveLength(3);
    expect((errors[0] as { code?: string }).code).toBe('EMFILE');
  });
});

describe(`a server under ulimit -n ${FILE_LIMIT}`, () => {
  test('refuses long-lived connections with 503 before running out, keeps serving subscribers and /metrics, closes sockets past its bound', async () => {
    const server = await startChildServer(ENV, 60_000, limitedLaunch(FILE_LIMIT));
    const metrics = await scrape(server);
    const limit = sampleValue(metrics, 'aurigraph_connections_limit');
    expect(limit).toBe(FILE_LIMIT - descriptorReserve(FILE_LIMIT));
    expect(sampleValue(metrics, 'aurigraph_http_sockets_limit')).toBe(FILE_LIMIT - descriptorReserve(FILE_LIMIT) / 2);

    const control = await openLegacy(server, '/ws/metrics');
    await receivesMore(control, 1, 'the control subscriber to receive metrics');

    // Fill up with WebSockets until one is refused.
    const admitted: UpgradeOutcome[] = [];
    let refusal: UpgradeOutcome | undefined;
    for (let i = 0; i < FILE_LIMIT && !refusal; i++) {
      const outcome = await tryUpgrade(server.ws('/ws/network'));
      if (outcome.status === 101) admitted.push(outcome);
      else refusal = outcome;
    }
    expect(refusal?.status).toBe(503);
    expect(httpErrorOf(refusal?.body ?? '').code).toBe('TOO_MANY_CONNECTIONS');
    expect(refusal?.headers['retry-after']).toBeDefined();
    expect(admitted.length + 1).toBe(limit);

    // Every transport is refused the same way; /metrics and the subscribers go on.
    const graphqlWs = await tryUpgrade(server.ws('/graphql'), { protocol: GRAPHQL_WS_PROTOCOL });
    expect(graphqlWs.status).toBe(503);
    const sse = sseProbe(server.http('/graphql'), { query: 'subscription { metrics { seq } }' });
    await sse.head;
    expect(sse.status).toBe(503);
    const atLimit = await scrape(server);
    expect(sampleValue(atLimit, 'aurigraph_connections_open')).toBe(limit);
    expect(sampleValue(atLimit, 'aurigraph_connections_refused_total', { reason: 'max-connections' })).toBeGreaterThanOrEqual(3);
    await receivesMore(control, 3, 'the control subscriber to keep receiving at the limit');

    // Plain connections past the socket bound are closed on arrival, and the process goes on.
    const raw: Awaited<ReturnType<typeof silentConnection>>[] = [];
    await waitFor(
      async () => {
        raw.push(await silentConnection(server.port));
        return raw.some((c) => c.closed);
      },
      { timeoutMs: 30_000, intervalMs: 1, what: 'a connection past the socket bound to be closed' },
    );
    for (const connection of raw) connection.socket.destroy();
    await waitFor(async () => (await probeStatus(server.http('/metrics'))) === 200, {
      what: '/metrics once the plain connections are gone',
    });
    expect(sampleValue(await scrape(server), 'aurigraph_connections_refused_total', { reason: 'sockets' })).toBeGreaterThanOrEqual(1);
    await receivesMore(control, 3, 'the control subscriber to keep receiving');
    expect(alive(server)).toBe(true);
  }, 120_000);

  test('EMFILE for real (descriptors taken by something the server did not count): /proc reads and accepts fail, nothing crashes', async () => {
    // 120 of the 256 descriptors are gone before the server starts; it still believes in 128 connections and 192 sockets.
    const server = await startChildServer(ENV, 60_000, limitedLaunch(FILE_LIMIT, 120));
    const control = await openLegacy(server, '/ws/metrics');
    await receivesMore(control, 1, 'the control subscriber to receive metrics');

    // libuv keeps one descriptor in reserve: at EMFILE it accepts the waiting connection with it and closes it at once.
    const held: Awaited<ReturnType<typeof silentConnection>>[] = [];
    await waitFor(
      async () => {
        held.push(await silentConnection(server.port));
        return held.some((c) => c.closed);
      },
      { timeoutMs: 30_000, intervalMs: 1, what: 'the server to run out of descriptors' },
    );
    // The ticker reads /proc every 50 ms: it failed too, and said so instead of ending the process.
    const tickerFailure = await server.waitForLog((line) => String(line.msg).startsWith('metrics ticker: a reading failed'));
    expect(String((tickerFailure.err as { message?: string } | undefined)?.message ?? tickerFailure.err)).toMatch(/EMFILE/);
    expect(alive(server)).toBe(true);

    for (const connection of held) connection.socket.destroy();
    await waitFor(async () => (await probeStatus(server.http('/health'))) === 200, { what: 'the server to serve again' });
    expect(await probeStatus(server.http('/metrics'))).toBe(200);
    await receivesMore(control, 3, 'the control subscriber to receive metrics again');
    expect(server.logs.filter((line) => /uncaught/.test(String(line.msg)))).toEqual([]);
    expect(alive(server)).toBe(true);
  }, 120_000);
});
