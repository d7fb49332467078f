import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import type { Publish } from '../../src/bus/bus.ts';
import { parseEvent, toTimestamp, type MetricsEvent, type TransactionEvent, type TransactionStatus } from '../helpers/contract.ts';
import { createMetricsTicker } from '../../src/sources/metrics-ticker.ts';

const START = Date.UTC(2025, 9, 25, 9, 35, 0, 0);

let counter = 0;
function tx(status: TransactionStatus): TransactionEvent {
  counter++;
  return {
    timestamp: toTimestamp(Date.now()),
    txHash: `0x${counter.toString(16).padStart(64, '0')}`,
    from: `0x${'a'.repeat(40)}`,
    to: `0x${'b'.repeat(40)}`,
    value: '1',
    status,
    gasUsed: status === 'PENDING' ? 0 : 21_000,
  };
}

function setup(intervalMs: number) {
  let listener: ((event: TransactionEvent) => void) | undefined;
  let connections = 0;
  const published: { stream: string; event: MetricsEvent }[] = [];
  const ticker = createMetricsTicker({
    intervalMs,
    observeTransactions(l) {
      listener = l;
      return () => {
        listener = undefined;
      };
    },
    connections: () => connections,
  });
  const publish: Publish = (stream, event) => {
    published.push({ stream, event: event as MetricsEvent });
  };
  const feed = (status: TransactionStatus, count: number) => {
    for (let i = 0; i < count; i++) {
      if (!listener) throw new Error('ticker is not observing transactions');
      listener(tx(status));
    }
  };
  return {
    ticker,
    publish,
    published,
    feed,
    setConnections: (n: number) => (connections = n),
    observing: () => listener !== undefined,
  };
}

beforeEach(() => {
  // Wall time (Date, performance) and intervals move only when the test says so.
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date', 'performance'], now: START });
});
afterEach(() => {
  vi.useRealTimers();
});

test('tps and errorRate come from the transactions that finished in each window', async () => {
  const s = setup(1000);
  await s.ticker.start(s.publish);
  expect(s.observing()).toBe(true);

  s.feed('PENDING', 50); // not finished: counts for neither tps nor errorRate
  s.feed('SUCCESS', 30);
  s.feed('FAILED', 10);
  vi.advanceTimersByTime(999);
  expect(s.published).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(s.published).toHaveLength(1);
  expect(s.published[0]?.stream).toBe('metrics');
  expect(s.published[0]?.event).toMatchObject({ tps: 40, errorRate: 0.25, timestamp: '2025-10-25T09:35:01.000Z' });

  // The next window starts from zero.
  s.feed('SUCCESS', 2);
  s.feed('FAILED', 1);
  vi.advanceTimersByTime(1000);
  expect(s.published[1]?.event).toMatchObject({ tps: 3, errorRate: 0.3333 });

  // A window with nothing finished: zero, not NaN.
  s.feed('PENDING', 5);
  vi.advanceTimersByTime(1000);
  expect(s.published[2]?.event).toMatchObject({ tps: 0, errorRate: 0 });

  for (const { event } of s.published) expect(parseEvent('metrics', event)).toMatchObject({ ok: true });
  await s.ticker.stop();
});

test('tps is per second, whatever the interval', async () => {
  const s = setup(2500);
  await s.ticker.start(s.publish);
  s.feed('SUCCESS', 99);
  s.feed('FAILED', 1);
  vi.advanceTimersByTime(2500);
  expect(s.published[0]?.event).toMatchObject({ tps: 40, errorRate: 0.01 });
  await s.ticker.stop();
});

test('connections come from the callback at each tick; cpu is a percentage; memory is resident MB', async () => {
  const s = setup(200);
  await s.ticker.start(s.publish);
  s.setConnections(7);
  vi.advanceTimersByTime(200);
  s.setConnections(1234);
  // Burn some real CPU so the sample is not trivially zero.
  const until = process.cpuUsage().user + 20_000;
  while (process.cpuUsage().user < until) Math.sqrt(Math.random());
  vi.advanceTimersByTime(200);
  expect(s.published.map((p) => p.event.connections)).toEqual([7, 1234]);
  for (const { event } of s.published) {
    expect(event.cpu).toBeGreaterThanOrEqual(0);
    expect(event.cpu).toBeLessThanOrEqual(100);
    expect(event.memory).toBeGreaterThan(1);
    expect(event.memory).toBeLessThan(64 * 1024);
  }
  // 20 ms of CPU within a 200 ms window shows up, whatever the core count.
  expect(s.published[1]?.event.cpu).toBeGreaterThan(0);
  await s.ticker.stop();
});

test('stop ends the ticks and the observation', async () => {
  const s = setup(1000);
  await s.ticker.start(s.publish);
  vi.advanceTimersByTime(1000);
  expect(s.published).toHaveLength(1);
  await s.ticker.stop();
  expect(s.observing()).toBe(false);
  vi.advanceTimersByTime(10_000);
  expect(s.published).toHaveLength(1);
});

test('a publish the bus refuses (a rejected promise) neither throws nor stops the ticks', async () => {
  const s = setup(1000);
  let attempts = 0;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await s.ticker.start(() => {
      attempts++;
      return Promise.reject(new Error('bus down'));
    });
    vi.advanceTimersByTime(3000);
    expect(attempts).toBe(3);
    // Let the rejections settle: each was handled by the ticker.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await s.ticker.stop();
  }
});

test('nothing ticks before start; every snapshot fits the metrics descriptor, whatever the inputs', async () => {
  const s = setup(1000);
  vi.advanceTimersByTime(5000);
  expect(s.published).toEqual([]);
  expect(s.observing()).toBe(false);
  await s.ticker.start(s.publish);
  s.setConnections(2 ** 31 - 1);
  s.feed('FAILED', 5000);
  vi.advanceTimersByTime(1000);
  expect(s.published).toHaveLength(1);
  expect(s.published[0]?.event).toMatchObject({ errorRate: 1, connections: 2 ** 31 - 1 });
  expect(parseEvent('metrics', s.published[0]?.event)).toMatchObject({ ok: true });
  await s.ticker.stop();
});
