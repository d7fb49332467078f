import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createDeliveryCounters, TRANSPORTS } from '../../src/engine/counters.ts';
import { STREAM_NAMES } from '../../src/streams/registry.ts';
import { fakeLogger } from './fakes.ts';

const T0 = Date.UTC(2025, 9, 25, 9, 35, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();

beforeEach(() => {
  // The clock and the end-of-macrotask hook move only when the test says so.
  vi.useFakeTimers({ toFake: ['Date', 'setImmediate', 'clearImmediate'], now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function counters(targetMs = 100) {
  const logger = fakeLogger();
  const c = createDeliveryCounters({ targetMs, logger });
  const fanOuts: [string, number, number][] = [];
  c.onFanOutComplete((stream, makespanMs, deliveries) => fanOuts.push([stream, makespanMs, deliveries]));
  return { c, logger, fanOuts };
}

describe('live and history', () => {
  test('every stream and transport starts at zero', () => {
    const { c } = counters();
    expect(c.stats.messagesSent).toBe(0);
    expect(c.stats.lastBroadcastLatency).toBe(0);
    for (const stream of STREAM_NAMES) {
      for (const transport of TRANSPORTS) {
        expect(c.stats.sentBy[stream][transport]).toBe(0);
        expect(c.stats.historyBy[stream][transport]).toBe(0);
      }
    }
    expect(c.stats.droppedBy.size).toBe(0);
    expect(c.stats.terminatedBy.size).toBe(0);
    expect(c.stats.renderErrors).toBe(0);
  });

  test('live frames count as sent per stream and transport; history frames only as history', () => {
    const { c } = counters();
    c.live('transactions', 1, at(0), 'graphql-ws');
    c.live('transactions', 1, at(0), 'sse');
    c.live('metrics', 1, at(0), 'legacy');
    c.history('transactions', 'legacy');
    c.history('transactions', 'legacy');
    c.history('validators', 'sse');
    expect(c.stats.messagesSent).toBe(3);
    expect(c.stats.sentBy.transactions).toEqual({ 'graphql-ws': 1, 'subscriptions-transport-ws': 0, sse: 1, multipart: 0, legacy: 0 });
    expect(c.stats.sentBy.metrics.legacy).toBe(1);
    expect(c.stats.historyBy.transactions).toEqual({ 'graphql-ws': 0, 'subscriptions-transport-ws': 0, sse: 0, multipart: 0, legacy: 2 });
    expect(c.stats.historyBy.validators.sse).toBe(1);
    expect(c.stats.sentBy.validators.sse).toBe(0);
  });

  test('latency comes from live deliveries only: event timestamp to write', () => {
    const { c } = counters();
    vi.setSystemTime(T0 + 40);
    c.live('transactions', 1, at(0), 'graphql-ws');
    expect(c.stats.lastBroadcastLatency).toBe(40);
    // An hour-old event replayed to a resuming client is history, not latency.
    vi.setSystemTime(T0 + 3_600_000);
    c.history('transactions', 'graphql-ws');
    expect(c.stats.lastBroadcastLatency).toBe(40);
    // An event stamped ahead of this clock is not negative latency.
    c.live('transactions', 2, at(3_600_000 + 500), 'sse');
    expect(c.stats.lastBroadcastLatency).toBe(0);
  });
});

describe('fan-out', () => {
  test('one fan-out per event: its makespan is the slowest delivery, finalised when the next event starts', () => {
    const { c, fanOuts } = counters(1_000_000);
    vi.setSystemTime(T0 + 10);
    c.live('transactions', 1, at(0), 'graphql-ws');
    vi.setSystemTime(T0 + 25);
    c.live('transactions', 1, at(0), 'sse');
    vi.setSystemTime(T0 + 18);
    c.live('transactions', 1, at(0), 'legacy');
    expect(fanOuts).toEqual([]);
    vi.setSystemTime(T0 + 30);
    c.live('transactions', 2, at(20), 'graphql-ws');
    expect(fanOuts).toEqual([['transactions', 25, 3]]);
    expect(c.stats.lastBroadcastLatency).toBe(10);
  });

  test('a fan-out is finalised at the end of its macrotask, once, even when the next event follows later', () => {
    const { c, fanOuts } = counters(1_000_000);
    vi.setSystemTime(T0 + 5);
    c.live('validators', 7, at(0), 'sse');
    c.live('validators', 7, at(0), 'sse');
    vi.runOnlyPendingTimers();
    expect(fanOuts).toEqual([['validators', 5, 2]]);
    c.live('validators', 8, at(5), 'sse');
    vi.runOnlyPendingTimers();
    expect(fanOuts).toEqual([
      ['validators', 5, 2],
      ['validators', 0, 1],
    ]);
    vi.runAllTimers();
    expect(fanOuts).toHaveLength(2);
  });

  test('streams have their own fan-outs; an older seq arriving late is sent but not latency', () => {
    const { c, fanOuts } = counters(1_000_000);
    vi.setSystemTime(T0 + 50);
    c.live('transactions', 5, at(0), 'sse');
    c.live('network', 1, at(40), 'sse');
    c.live('transactions', 5, at(0), 'sse');
    expect(fanOuts).toEqual([]);
    c.live('transactions', 4, at(0), 'legacy');
    expect(c.stats.messagesSent).toBe(4);
    vi.runOnlyPendingTimers();
    expect(fanOuts.sort()).toEqual([
      ['network', 10, 1],
      ['transactions', 50, 2],
    ]);
  });

  test('a fan-out over the target warns, at most once per 10 s, counting what it folded in', () => {
    const { c, logger } = counters(100);
    const slow = (seq: number) => {
      c.live('consensus', seq, new Date(Date.now() - 150).toISOString(), 'graphql-ws');
      vi.runOnlyPendingTimers();
    };
    slow(1);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenLastCalledWith(
      expect.objectContaining({ stream: 'consensus', latencyMs: 150, targetMs: 100, fanOut: 1, suppressed: 0 }),
      'broadcast latency over target',
    );
    vi.setSystemTime(Date.now() + 5000);
    slow(2);
    slow(3);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    vi.setSystemTime(Date.now() + 5000);
    slow(4);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.warn).toHaveBeenLastCalledWith(expect.objectContaining({ suppressed: 2 }), 'broadcast latency over target');
    // Within the target: never a warning.
    vi.setSystemTime(Date.now() + 60_000);
    c.live('consensus', 5, new Date(Date.now() - 100).toISOString(), 'graphql-ws');
    vi.runOnlyPendingTimers();
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });
});

describe('drops, terminations, render errors', () => {
  test('drops are keyed by stream, transport and reason; terminations by transport and reason', () => {
    const { c } = counters();
    c.dropped('metrics', 'sse', 'slow-consumer');
    c.dropped('metrics', 'sse', 'slow-consumer');
    c.dropped('metrics', 'legacy', 'slow-consumer');
    c.terminated('graphql-ws', 'slow-consumer');
    c.terminated('graphql-ws', 'missed-pong');
    c.terminated('legacy', 'slow-consumer');
    c.terminated('legacy', 'slow-consumer');
    expect(Object.fromEntries(c.stats.droppedBy)).toEqual({
      'metrics\u0000sse\u0000slow-consumer': 2,
      'metrics\u0000legacy\u0000slow-consumer': 1,
    });
    expect(Object.fromEntries(c.stats.terminatedBy)).toEqual({
      'graphql-ws\u0000slow-consumer': 1,
      'graphql-ws\u0000missed-pong': 1,
      'legacy\u0000slow-consumer': 2,
    });
    // Neither is a message sent.
    expect(c.stats.messagesSent).toBe(0);
  });

  test('render failures are counted', () => {
    const { c } = counters();
    c.renderFailed();
    c.renderFailed();
    expect(c.stats.renderErrors).toBe(2);
  });
});
