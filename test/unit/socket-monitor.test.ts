import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Transport } from '../../src/engine/counters.ts';
import type { Outlet } from '../../src/engine/engine.ts';
import { RealtimeError } from '../../src/errors.ts';
import { createSocketMonitor, type SocketMonitor } from '../../src/transports/websocket.ts';
import { onCleanup, track } from '../helpers/track.ts';
import { closeFramesOf, rawUpgrade, type RawUpgrade } from '../helpers/ws-frames.ts';
import { until } from './fakes.ts';

/**
 * A real `ws` server/client pair on port 0; the monitor's clock (its interval
 * timer, Date, the abort grace timeout) is faked, so every tick happens when
 * the test says and nothing depends on how busy the machine is. Socket I/O is
 * real: the test waits for it with `until`.
 */

const T0 = Date.UTC(2025, 9, 25, 9, 35, 0, 0);
const KiB = 1024;

interface Watched {
  server: WebSocket;
  outlet: Outlet;
  pongs: number;
}

interface Rig {
  monitor: SocketMonitor;
  terminated: { transport: Transport; reason: string; socket: WebSocket }[];
  port: number;
  /** Opens a client and waits until the server watches its socket. */
  connect(options?: {
    autoPong?: boolean;
  }): Promise<{ client: WebSocket; watched: Watched; pings: () => number; closed: Promise<{ code: number; reason: string }> }>;
  /** A hand-written client that never answers anything (not even a close). */
  connectRaw(): Promise<{ raw: RawUpgrade; watched: Watched }>;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'], now: T0 });
});
// Runs before the test's cleanups (onTestFinished), which close sockets on real timers.
afterEach(() => {
  vi.useRealTimers();
});

async function rig(pingIntervalMs: number, transport: Transport = 'legacy'): Promise<Rig> {
  const terminated: Rig['terminated'] = [];
  const monitor = createSocketMonitor({
    pingIntervalMs,
    onTerminate: (socket, t, reason) => terminated.push({ socket, transport: t, reason }),
  });
  monitor.start();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  const arrivals: Watched[] = [];
  wss.on('connection', (server) => {
    const watched: Watched = { server, outlet: monitor.watch(server, transport), pongs: 0 };
    server.on('pong', () => watched.pongs++);
    arrivals.push(watched);
  });
  onCleanup(async () => {
    monitor.stop();
    for (const server of wss.clients) server.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  const nextArrival = async () => {
    const before = arrivals.length;
    await until(() => arrivals.length > before, 'the server to take the connection');
    return arrivals[before] as Watched;
  };
  return {
    monitor,
    terminated,
    port,
    async connect(options = {}) {
      const arrival = nextArrival();
      const client = track(new WebSocket(`ws://127.0.0.1:${port}/`, { autoPong: options.autoPong ?? true }));
      let pings = 0;
      client.on('ping', () => pings++);
      client.on('error', () => {});
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        client.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
      );
      await new Promise<void>((resolve, reject) => {
        client.once('open', () => resolve());
        client.once('error', reject);
      });
      return { client, watched: await arrival, pings: () => pings, closed };
    },
    async connectRaw() {
      const arrival = nextArrival();
      const raw = await rawUpgrade(port, '/');
      return { raw, watched: await arrival };
    },
  };
}

describe('heartbeat', () => {
  test('pings every interval; a peer that answers lives on', async () => {
    const r = await rig(1000);
    const { watched, pings } = await r.connect();
    // The tick runs every half interval; a socket is pinged once a whole interval passed since the last ping.
    vi.advanceTimersByTime(500);
    expect(pings()).toBe(0);
    for (let round = 1; round <= 3; round++) {
      vi.advanceTimersByTime(500);
      await until(() => watched.pongs === round, `pong ${round}`);
      expect(pings()).toBe(round);
      vi.advanceTimersByTime(500);
    }
    expect(r.terminated).toEqual([]);
    expect(watched.server.readyState).toBe(WebSocket.OPEN);
    expect(r.monitor.count()).toBe(1);
    expect(r.monitor.count('legacy')).toBe(1);
    expect(r.monitor.count('graphql-ws')).toBe(0);
  });

  test("a peer that does not answer is terminated as 'missed-pong' and reported", async () => {
    const r = await rig(1000, 'graphql-ws');
    const { watched, pings, closed } = await r.connect({ autoPong: false });
    vi.advanceTimersByTime(1000);
    await until(() => pings() === 1, 'the ping');
    vi.advanceTimersByTime(500);
    expect(r.terminated).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(r.terminated).toEqual([{ socket: watched.server, transport: 'graphql-ws', reason: 'missed-pong' }]);
    expect(r.monitor.count()).toBe(0);
    // Terminated, not closed: no close frame, the TCP connection just ends.
    expect((await closed).code).toBe(1006);
    // Reported once, however long time goes on.
    vi.advanceTimersByTime(10_000);
    expect(r.terminated).toHaveLength(1);
  });

  test('lagMs grows while a probe is unanswered and resets on pong', async () => {
    const r = await rig(1000);
    const { client, watched, pings } = await r.connect({ autoPong: false });
    expect(watched.outlet.lagMs(Date.now())).toBe(0);
    vi.advanceTimersByTime(1000);
    await until(() => pings() === 1, 'the ping');
    expect(watched.outlet.lagMs(Date.now())).toBe(0);
    vi.advanceTimersByTime(300);
    expect(watched.outlet.lagMs(Date.now())).toBe(300);
    expect(watched.outlet.lagMs(Date.now() + 200)).toBe(500);
    client.pong();
    await until(() => watched.pongs === 1, 'the pong');
    expect(watched.outlet.lagMs(Date.now())).toBe(0);
    expect(watched.outlet.lagMs(Date.now() + 60_000)).toBe(0);
    // Answered in time: the next interval pings again instead of terminating.
    vi.advanceTimersByTime(700);
    await until(() => pings() === 2, 'the next ping');
    expect(r.terminated).toEqual([]);
  });

  test('a probe goes out after 64 KiB written, long before the interval; not before', async () => {
    // Interval 10 s, so the tick (every 1 s) pings only because of the bytes.
    const r = await rig(10_000);
    const { watched, pings } = await r.connect();
    const ping = vi.spyOn(watched.server, 'ping');
    const chunk = 'x'.repeat(KiB);
    for (let i = 0; i < 63; i++) watched.outlet.write(chunk);
    watched.outlet.write('x'.repeat(KiB - 1));
    vi.advanceTimersByTime(1000);
    expect(ping).not.toHaveBeenCalled();

    watched.outlet.write('x');
    vi.advanceTimersByTime(1000);
    expect(ping).toHaveBeenCalledTimes(1);
    await until(() => pings() === 1 && watched.pongs === 1, 'the probe and its answer');

    // The count starts again after a probe: the next one needs another 64 KiB.
    for (let i = 0; i < 32; i++) watched.outlet.write(chunk);
    vi.advanceTimersByTime(1000);
    expect(ping).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 32; i++) watched.outlet.write(chunk);
    vi.advanceTimersByTime(1000);
    expect(ping).toHaveBeenCalledTimes(2);
  });

  test('no second probe while one is unanswered, however much is written', async () => {
    const r = await rig(10_000);
    const { watched } = await r.connect({ autoPong: false });
    const ping = vi.spyOn(watched.server, 'ping');
    const big = 'y'.repeat(64 * KiB);
    watched.outlet.write(big);
    vi.advanceTimersByTime(1000);
    watched.outlet.write(big);
    vi.advanceTimersByTime(1000);
    watched.outlet.write(big);
    vi.advanceTimersByTime(1000);
    expect(ping).toHaveBeenCalledTimes(1);
    expect(watched.outlet.lagMs(Date.now())).toBe(2000);
  });

  test('stop() ends the pings', async () => {
    const r = await rig(1000);
    const { watched } = await r.connect();
    const ping = vi.spyOn(watched.server, 'ping');
    r.monitor.stop();
    vi.advanceTimersByTime(10_000);
    expect(ping).not.toHaveBeenCalled();
    expect(r.terminated).toEqual([]);
  });
});

describe('the WebSocket outlet', () => {
  test('writes text frames while open and reports what ws still buffers', async () => {
    const r = await rig(10_000);
    const { client, watched } = await r.connect();
    const received: string[] = [];
    client.on('message', (data, isBinary) => received.push(`${isBinary ? 'binary' : 'text'}:${data.toString()}`));
    watched.outlet.write('{"a":1}');
    watched.outlet.write(Buffer.from('{"b":2}'));
    await until(() => received.length === 2, 'both frames');
    expect(received).toEqual(['text:{"a":1}', 'text:{"b":2}']);
    expect(watched.outlet.buffered()).toBe(watched.server.bufferedAmount);
    expect(watched.outlet.transport).toBe('legacy');
  });

  test("abort() closes with the error's close code and reason", async () => {
    const r = await rig(10_000);
    const { watched, closed } = await r.connect();
    const error = new RealtimeError('SLOW_CONSUMER', 'slow consumer: fell too far behind; reconnect and resume with the last cursor');
    watched.outlet.abort(error);
    // No longer watched: no ping, no missed-pong report for a socket already being cut.
    expect(r.monitor.count()).toBe(0);
    expect(await closed).toEqual({ code: 4008, reason: error.toClose().reason });
    expect(r.terminated).toEqual([]);
  });

  test('abort() terminates a peer that never answers the close, once the grace has passed', async () => {
    const r = await rig(10_000);
    const { raw, watched } = await r.connectRaw();
    const terminate = vi.spyOn(watched.server, 'terminate');
    watched.outlet.abort(new RealtimeError('SLOW_CONSUMER', 'slow consumer'));
    await until(() => closeFramesOf(raw.bytes()).length > 0, 'the close frame');
    expect(closeFramesOf(raw.bytes()).map((f) => f.code)).toEqual([4008]);
    vi.advanceTimersByTime(999);
    expect(terminate).not.toHaveBeenCalled();
    expect(watched.server.readyState).toBe(WebSocket.CLOSING);
    vi.advanceTimersByTime(1);
    expect(terminate).toHaveBeenCalledTimes(1);
    await raw.closed;
    // Writes after the abort go nowhere and do not throw.
    expect(() => watched.outlet.write('late')).not.toThrow();
  });
});
