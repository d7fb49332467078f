import { afterEach, describe, expect, test, vi } from 'vitest';
import type { EventBus } from '../../src/bus/bus.ts';
import { createMemoryBus } from '../../src/bus/memory.ts';
import { createDeliveryCounters, type Transport } from '../../src/engine/counters.ts';
import {
  createDeliveryEngine,
  type DeliveryRequest,
  type EngineConnection,
  type Renderer,
  type SubscriberSink,
} from '../../src/engine/engine.ts';
import { RealtimeError } from '../../src/errors.ts';
import type { StreamFilter } from '../../src/streams/filters.ts';
import { createStreams, type Streams } from '../../src/streams/index.ts';
import type { AnyEvent, EventOf, StreamName } from '../../src/streams/registry.ts';
import { FakeOutlet, fakeLogger, fakeRenderer, frameText, snapshot, tx, validator, type RenderCalls } from './fakes.ts';

interface Setup {
  bus: EventBus;
  streams: Streams;
  engine: ReturnType<typeof createDeliveryEngine>;
  counters: ReturnType<typeof createDeliveryCounters>;
  logger: ReturnType<typeof fakeLogger>;
  publish<S extends StreamName>(stream: S, event: EventOf<S>): void;
  cursorOf(stream: StreamName, seq: number): string;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A real engine over real hubs (createStreams over the in-process bus); only the outlets are fakes. */
async function setup(options: { bufferLimitBytes?: number; lagLimitMs?: number; bufferSize?: number } = {}): Promise<Setup> {
  const bus = createMemoryBus({ dedupWindowMs: 0 });
  const streams = createStreams(bus, { bufferSize: options.bufferSize ?? 1000, ttlMs: 0 });
  await bus.start();
  await streams.start();
  const logger = fakeLogger();
  // Event timestamps are in 2025: a latency target no fan-out can exceed keeps the latency warning out of the way.
  const counters = createDeliveryCounters({ targetMs: Number.MAX_SAFE_INTEGER, logger });
  const engine = createDeliveryEngine({
    streams,
    counters,
    logger,
    bufferLimitBytes: options.bufferLimitBytes ?? 1_000_000,
    lagLimitMs: options.lagLimitMs ?? 5000,
  });
  engine.start();
  const cursors = new Map<string, string>();
  cleanups.push(() => {
    engine.stop();
    streams.stop();
    void bus.stop();
  });
  return {
    bus,
    streams,
    engine,
    counters,
    logger,
    publish(stream, event) {
      // The memory bus hands the event to the hub synchronously: the fan-out has run when this returns.
      void bus.publish(stream, event);
      const latest = streams.hub(stream).latest();
      if (latest) cursors.set(`${stream}:${latest.seq}`, latest.cursor);
    },
    cursorOf(stream, seq) {
      const cursor = cursors.get(`${stream}:${seq}`);
      if (!cursor) throw new Error(`no cursor for ${stream} ${seq}`);
      return cursor;
    },
  };
}

const request = (stream: StreamName, filter?: StreamFilter<AnyEvent>, position: DeliveryRequest['position'] = {}): DeliveryRequest => ({
  stream,
  filter,
  position,
});

/** The seqs an outlet received from renderer `key` (frames are `key#seq`). */
function seqsOf(outlet: FakeOutlet, key: string): number[] {
  return outlet.frames
    .map((frame) => frameText(frame).trim())
    .filter((text) => text.startsWith(`${key}#`))
    .map((text) => Number(text.slice(key.length + 1)));
}

const failedOnly = (): StreamFilter<AnyEvent> => ({ key: 'failed', matches: (e) => (e as EventOf<'transactions'>).status === 'FAILED' });
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('groups', () => {
  test('identical subscriptions form one group and render once per event, whatever the number of subscribers', async () => {
    const s = await setup();
    const callsA: RenderCalls = { render: [], errors: [] };
    const callsB: RenderCalls = { render: [], errors: [] };
    const outlets = (['graphql-ws', 'sse', 'legacy', 'graphql-ws'] as Transport[]).map((t) => new FakeOutlet(t));
    for (const outlet of outlets) {
      // A fresh renderer object per subscriber: grouping is by key, not identity.
      s.engine.connect(outlet).subscribe(request('transactions'), fakeRenderer('A', callsA));
    }
    const other = new FakeOutlet('sse');
    s.engine.connect(other).subscribe(request('transactions'), fakeRenderer('B', callsB));
    expect(s.engine.groupCount('transactions')).toBe(2);
    expect(s.engine.filterGroupCount('transactions')).toBe(1);
    expect(s.engine.subscriberCount('transactions')).toBe(5);
    expect(s.engine.subscriberCount('transactions', 'graphql-ws')).toBe(2);
    expect(s.engine.subscriberCount('transactions', 'sse')).toBe(2);
    expect(s.engine.subscriberCount(undefined, 'legacy')).toBe(1);

    for (let i = 1; i <= 5; i++) s.publish('transactions', tx(i));
    expect(callsA.render).toEqual([1, 2, 3, 4, 5]);
    expect(callsB.render).toEqual([1, 2, 3, 4, 5]);
    for (const outlet of outlets) expect(seqsOf(outlet, 'A')).toEqual([1, 2, 3, 4, 5]);
    expect(seqsOf(other, 'B')).toEqual([1, 2, 3, 4, 5]);
    // Every write is counted as a live delivery of its transport.
    expect(s.counters.stats.messagesSent).toBe(25);
    expect(s.counters.stats.sentBy.transactions).toEqual({
      'graphql-ws': 10,
      'subscriptions-transport-ws': 0,
      sse: 10,
      multipart: 0,
      legacy: 5,
    });
  });

  test("a subscriber's own framing wraps the shared frame without another render", async () => {
    const s = await setup();
    const calls: RenderCalls = { render: [], errors: [] };
    const outlet = new FakeOutlet('graphql-ws');
    const connection = s.engine.connect(outlet);
    connection.subscribe(request('transactions'), fakeRenderer('A', calls), { frame: (shared) => `op1|${frameText(shared)}` });
    connection.subscribe(request('transactions'), fakeRenderer('A', calls), { frame: (shared) => `op2|${frameText(shared)}` });
    s.publish('transactions', tx(1));
    expect(calls.render).toEqual([1]);
    expect(outlet.texts()).toEqual(['op1|A#1', 'op2|A#1']);
    expect(connection.size).toBe(2);
  });

  test('distinct filters are evaluated once per event, however many subscribers share them', async () => {
    const s = await setup();
    let evaluations = 0;
    const byGas = (k: number): StreamFilter<AnyEvent> => ({
      key: `gas%4=${k}`,
      matches: (e) => {
        evaluations++;
        return (e as EventOf<'transactions'>).gasUsed % 4 === k;
      },
    });
    const subscribers = range(0, 99).map((i) => {
      const outlet = new FakeOutlet(i % 2 === 0 ? 'graphql-ws' : 'sse');
      // A fresh filter object per subscriber: filters group by their canonical key.
      const subscription = s.engine.connect(outlet).subscribe(request('transactions', byGas(i % 4)), fakeRenderer('A'));
      return { i, outlet, subscription };
    });
    const all = new FakeOutlet('legacy');
    s.engine.connect(all).subscribe(request('transactions'), fakeRenderer('A'));
    expect(s.engine.filterGroupCount('transactions')).toBe(5);
    expect(s.engine.groupCount('transactions')).toBe(5);

    for (let i = 1; i <= 20; i++) s.publish('transactions', tx(i));
    expect(evaluations).toBe(20 * 4);
    for (const { i, outlet } of subscribers)
      expect(seqsOf(outlet, 'A')).toEqual(range(1, 20).filter((seq) => (21_000 + seq) % 4 === i % 4));
    expect(seqsOf(all, 'A')).toEqual(range(1, 20));

    // An emptied filter group costs nothing any more.
    for (const { i, subscription } of subscribers) if (i % 4 === 1) subscription.end();
    expect(s.engine.filterGroupCount('transactions')).toBe(4);
    evaluations = 0;
    s.publish('transactions', tx(21));
    expect(evaluations).toBe(3);
    expect(s.engine.subscriberCount('transactions')).toBe(76);
  });

  test('end() leaves the group at once and is idempotent; the last one out removes the group', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('sse');
    const connection = s.engine.connect(outlet);
    const first = connection.subscribe(request('validators'), fakeRenderer('V'));
    const second = connection.subscribe(request('validators'), fakeRenderer('V'));
    expect(s.engine.subscriberCount('validators', 'sse')).toBe(2);
    first.end();
    first.end();
    expect(s.engine.subscriberCount('validators', 'sse')).toBe(1);
    expect(connection.size).toBe(1);
    s.publish('validators', validator(1));
    expect(seqsOf(outlet, 'V')).toEqual([1]);
    second.end();
    expect(s.engine.groupCount()).toBe(0);
    expect(s.engine.filterGroupCount('validators')).toBe(0);
    s.publish('validators', validator(2));
    expect(seqsOf(outlet, 'V')).toEqual([1]);
  });

  test('stop() ends the fan-out', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('legacy');
    s.engine.connect(outlet).subscribe(request('transactions'), fakeRenderer('A'));
    s.publish('transactions', tx(1));
    s.engine.stop();
    s.publish('transactions', tx(2));
    expect(seqsOf(outlet, 'A')).toEqual([1]);
  });
});

describe('backlog and live', () => {
  test('resume: the backlog, then live, with no gap and no duplicate; history counted apart from live', async () => {
    const s = await setup();
    for (let i = 1; i <= 10; i++) s.publish('transactions', tx(i));
    const outlet = new FakeOutlet('legacy');
    s.engine.connect(outlet).subscribe(request('transactions', undefined, { after: s.cursorOf('transactions', 6) }), fakeRenderer('A'));
    expect(seqsOf(outlet, 'A')).toEqual([7, 8, 9, 10]);
    s.publish('transactions', tx(11));
    expect(seqsOf(outlet, 'A')).toEqual([7, 8, 9, 10, 11]);
    expect(s.counters.stats.historyBy.transactions.legacy).toBe(4);
    expect(s.counters.stats.sentBy.transactions.legacy).toBe(1);
    expect(s.counters.stats.messagesSent).toBe(1);
  });

  test('subscribing from inside a fan-out (same group, new group, new filter) loses nothing and repeats nothing', async () => {
    const s = await setup();
    const calls: RenderCalls = { render: [], errors: [] };
    const trigger = new FakeOutlet('graphql-ws');
    s.engine.connect(trigger).subscribe(request('transactions'), fakeRenderer('A', calls));
    for (let i = 1; i <= 6; i++) s.publish('transactions', tx(i));

    const sameGroup = new FakeOutlet('graphql-ws');
    const newGroup = new FakeOutlet('sse');
    const newFilter = new FakeOutlet('legacy');
    const liveOnly = new FakeOutlet('legacy');
    trigger.onWrite = (frame) => {
      if (frameText(frame) !== 'A#7') return;
      // All of these join while event 7 is being fanned out to the group they (partly) join.
      s.engine
        .connect(sameGroup)
        .subscribe(request('transactions', undefined, { after: s.cursorOf('transactions', 4) }), fakeRenderer('A', calls));
      s.engine.connect(newGroup).subscribe(request('transactions', undefined, { replay: 3 }), fakeRenderer('B'));
      s.engine.connect(newFilter).subscribe(request('transactions', failedOnly(), { replay: 2 }), fakeRenderer('A', calls));
      s.engine.connect(liveOnly).subscribe(request('transactions'), fakeRenderer('C'));
    };
    for (let i = 7; i <= 10; i++) s.publish('transactions', tx(i));

    expect(seqsOf(trigger, 'A')).toEqual(range(1, 10));
    expect(seqsOf(sameGroup, 'A')).toEqual(range(5, 10));
    expect(seqsOf(newGroup, 'B')).toEqual(range(5, 10));
    // FAILED events are every third: 3 and 6 from history; 9 live.
    expect(seqsOf(newFilter, 'A')).toEqual([3, 6, 9]);
    // Live only: event 7 was already published when it joined; it gets what follows.
    expect(seqsOf(liveOnly, 'C')).toEqual([8, 9, 10]);
    // History already rendered for the group is reused: group A rendered each event once (plus its filtered group's own).
    expect(calls.render.filter((seq) => seq <= 10).length).toBe(10 + 2 + 1);
  });

  test('REPLAY_GAP goes first, through renderError, then what is retained, then live', async () => {
    const s = await setup({ bufferSize: 3 });
    for (let i = 1; i <= 6; i++) s.publish('transactions', tx(i));
    const calls: RenderCalls = { render: [], errors: [] };
    const outlet = new FakeOutlet('sse');
    s.engine
      .connect(outlet)
      .subscribe(request('transactions', undefined, { after: s.cursorOf('transactions', 1) }), fakeRenderer('A', calls));
    s.publish('transactions', tx(7));
    expect(outlet.texts()).toEqual(['A!REPLAY_GAP', 'A#4', 'A#5', 'A#6', 'A#7']);
    expect(calls.errors).toEqual(['REPLAY_GAP']);

    // A cursor from another history: the notice, then live only.
    const foreign = new FakeOutlet('sse');
    s.engine.connect(foreign).subscribe(request('transactions', undefined, { after: 'not-a-cursor' }), fakeRenderer('A'));
    s.publish('transactions', tx(8));
    expect(foreign.texts()).toEqual(['A!REPLAY_GAP', 'A#8']);
    // The gap notice is not an event: history counts the three retained events only.
    expect(s.counters.stats.historyBy.transactions.sse).toBe(3);
  });
});

describe('slow consumers', () => {
  test('conflate (metrics): frames are skipped while over the byte budget and falling behind, or over the lag limit; drops are counted', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    const slow = new FakeOutlet('sse');
    const fast = new FakeOutlet('sse');
    s.engine.connect(slow).subscribe(request('metrics'), fakeRenderer('M'));
    s.engine.connect(fast).subscribe(request('metrics'), fakeRenderer('M'));
    const dropped = () => s.counters.stats.droppedBy.get('metrics\u0000sse\u0000slow-consumer') ?? 0;
    const step = (i: number, pending: number, lag: number) => {
      slow.pending = pending;
      slow.lag = lag;
      s.publish('metrics', snapshot(i));
    };

    step(1, 0, 0);
    // Over the budget and behind (more than a tenth of the lag limit): skipped.
    step(2, 1001, 501);
    expect(dropped()).toBe(1);
    // At the budget is within it, whatever the lag below the limit.
    step(3, 1000, 5000);
    // Behind by more than the lag limit, with nothing buffered: skipped.
    step(4, 0, 5001);
    expect(dropped()).toBe(2);
    // Many budgets buffered at once: skipped even before the lag shows it.
    step(5, 9001 + 1000, 0);
    expect(dropped()).toBe(3);
    step(6, 0, 0);

    expect(seqsOf(slow, 'M')).toEqual([1, 3, 6]);
    expect(seqsOf(fast, 'M')).toEqual([1, 2, 3, 4, 5, 6]);
    // Conflation never ends the subscription.
    expect(slow.aborts).toEqual([]);
    expect(s.engine.subscriberCount('metrics')).toBe(2);
    expect(s.counters.stats.terminatedBy.size).toBe(0);
  });

  test('a burst over the byte budget that the reader keeps up with (no lag) is not slowness', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    const bursty = new FakeOutlet('legacy');
    s.engine.connect(bursty).subscribe(request('transactions'), fakeRenderer('A'));
    bursty.pending = 5000;
    bursty.lag = 500;
    s.publish('transactions', tx(1));
    expect(bursty.aborts).toEqual([]);
    expect(seqsOf(bursty, 'A')).toEqual([1]);
  });

  test('close (every other stream): the whole connection is aborted once, all its subscriptions leave at once, and it is counted', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    const slow = new FakeOutlet('graphql-ws');
    const fast = new FakeOutlet('legacy');
    const onEnd = vi.fn();
    const connection = s.engine.connect(slow);
    const subscriptions = [
      connection.subscribe(request('transactions'), fakeRenderer('A'), { onEnd }),
      connection.subscribe(request('transactions', failedOnly()), fakeRenderer('A'), { onEnd }),
      connection.subscribe(request('validators'), fakeRenderer('V'), { onEnd }),
      connection.subscribe(request('metrics'), fakeRenderer('M'), { onEnd }),
    ];
    s.engine.connect(fast).subscribe(request('transactions'), fakeRenderer('A'));
    expect(s.engine.subscriberCount(undefined, 'graphql-ws')).toBe(4);

    s.publish('transactions', tx(1));
    slow.pending = 1001;
    slow.lag = 501;
    s.publish('transactions', tx(2));

    expect(slow.aborts).toHaveLength(1);
    const error = slow.aborts[0] as RealtimeError;
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error.code).toBe('SLOW_CONSUMER');
    expect(error.toClose().code).toBe(4008);
    // Counts drop now, not when the socket reports its close.
    expect(s.engine.subscriberCount(undefined, 'graphql-ws')).toBe(0);
    expect(connection.size).toBe(0);
    expect(s.counters.stats.terminatedBy.get('graphql-ws\u0000slow-consumer')).toBe(1);
    expect(s.logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ transport: 'graphql-ws', stream: 'transactions' }),
      'slow consumer; closing',
    );
    // The transport's close says it; no `complete` per subscription.
    expect(onEnd).not.toHaveBeenCalled();

    // Nothing more reaches it and nothing is counted twice, whatever is published on any of its streams.
    s.publish('transactions', tx(3));
    s.publish('validators', validator(1));
    s.publish('metrics', snapshot(1));
    slow.lag = 10_000;
    s.publish('transactions', tx(4));
    expect(seqsOf(slow, 'A')).toEqual([1]);
    expect(seqsOf(slow, 'V')).toEqual([]);
    expect(slow.aborts).toHaveLength(1);
    expect(s.counters.stats.terminatedBy.get('graphql-ws\u0000slow-consumer')).toBe(1);
    // Everyone else is untouched.
    expect(seqsOf(fast, 'A')).toEqual([1, 2, 3, 4]);
    expect(s.engine.subscriberCount('transactions', 'legacy')).toBe(1);
    // Ending the subscriptions afterwards, subscribing again, and closing change nothing.
    for (const subscription of subscriptions) subscription.end();
    connection.subscribe(request('transactions'), fakeRenderer('A'));
    connection.close();
    expect(s.engine.subscriberCount(undefined, 'graphql-ws')).toBe(0);
  });

  test('close on lag alone: an outlet whose peer is behind by more than the lag limit is aborted', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    const behind = new FakeOutlet('legacy');
    s.engine.connect(behind).subscribe(request('consensus'), fakeRenderer('C'));
    behind.lag = 5000;
    s.publish('consensus', { ...validatorlessConsensus(), round: 1 });
    expect(behind.aborts).toEqual([]);
    behind.lag = 5001;
    s.publish('consensus', { ...validatorlessConsensus(), round: 2 });
    expect(behind.aborts.map((e) => e.code)).toEqual(['SLOW_CONSUMER']);
    expect(s.engine.subscriberCount('consensus')).toBe(0);
    expect(s.counters.stats.terminatedBy.get('legacy\u0000slow-consumer')).toBe(1);
  });

  test('history bytes are exempt from the live budget until the outlet drains below it', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    for (let i = 1; i <= 30; i++) s.publish('transactions', tx(i));
    const resumed = new FakeOutlet('sse');
    resumed.accumulate = true;
    // Behind enough that unsent bytes over the budget would count as slowness.
    resumed.lag = 600;
    s.engine.connect(resumed).subscribe(request('transactions', undefined, { replay: 30 }), fakeRenderer('A', undefined, 100));
    expect(resumed.buffered()).toBe(3000);

    // 3,000 bytes of history queued: live frames still go out on top of it, within the budget.
    for (let i = 31; i <= 35; i++) s.publish('transactions', tx(i));
    expect(resumed.aborts).toEqual([]);
    expect(seqsOf(resumed, 'A')).toEqual(range(1, 35));

    // Once the outlet drained below the budget, the exemption is spent.
    resumed.drain();
    s.publish('transactions', tx(36));
    expect(resumed.aborts).toEqual([]);
    resumed.pending = 1500;
    s.publish('transactions', tx(37));
    expect(resumed.aborts.map((e) => e.code)).toEqual(['SLOW_CONSUMER']);
    expect(seqsOf(resumed, 'A')).toEqual(range(1, 36));

    // The same 1,500 bytes without history behind them are over the budget at once.
    const control = new FakeOutlet('sse');
    s.engine.connect(control).subscribe(request('transactions'), fakeRenderer('A', undefined, 100));
    control.pending = 1500;
    control.lag = 600;
    s.publish('transactions', tx(38));
    expect(control.aborts.map((e) => e.code)).toEqual(['SLOW_CONSUMER']);
  });

  test('the exemption covers only the history: live frames past budget + history still trip the policy', async () => {
    const s = await setup({ bufferLimitBytes: 1000, lagLimitMs: 5000 });
    for (let i = 1; i <= 20; i++) s.publish('transactions', tx(i));
    const outlet = new FakeOutlet('graphql-ws');
    outlet.accumulate = true;
    outlet.lag = 600;
    s.engine.connect(outlet).subscribe(request('transactions', undefined, { replay: 20 }), fakeRenderer('A', undefined, 100));
    // 2,000 history bytes + 1,000 budget = 3,000 allowed before a live frame; each frame adds 100.
    for (let i = 21; i <= 31; i++) s.publish('transactions', tx(i));
    expect(outlet.aborts).toEqual([]);
    expect(outlet.buffered()).toBe(3100);
    s.publish('transactions', tx(32));
    expect(outlet.aborts).toHaveLength(1);
    expect(seqsOf(outlet, 'A')).toEqual(range(1, 31));
  });
});

describe('ending', () => {
  test('endAll() calls every sink.onEnd exactly once, after every subscription has left', async () => {
    const s = await setup();
    const ends: string[] = [];
    const sizesAtEnd: number[] = [];
    const connections: EngineConnection[] = [];
    const sink = (name: string): SubscriberSink => ({
      onEnd: () => {
        ends.push(name);
        // The transport may close its connection from onEnd: its subscriptions have all left by then.
        sizesAtEnd.push(connections[name.startsWith('a') ? 0 : 1]?.size ?? -1);
      },
    });
    const a = s.engine.connect(new FakeOutlet('graphql-ws'));
    const b = s.engine.connect(new FakeOutlet('sse'));
    connections.push(a, b);
    a.subscribe(request('transactions'), fakeRenderer('A'), sink('a1'));
    a.subscribe(request('validators'), fakeRenderer('V'), sink('a2'));
    b.subscribe(request('transactions', failedOnly()), fakeRenderer('A'), sink('b1'));
    b.subscribe(request('metrics'), fakeRenderer('M'));
    const ended = a.subscribe(request('network'), fakeRenderer('N'), sink('gone'));
    ended.end();

    s.engine.endAll();
    expect(ends.sort()).toEqual(['a1', 'a2', 'b1']);
    expect(sizesAtEnd).toEqual([0, 0, 0]);
    expect(s.engine.subscriberCount()).toBe(0);
    expect(s.engine.groupCount()).toBe(0);
    expect(a.size + b.size).toBe(0);

    s.engine.endAll();
    expect(ends).toHaveLength(3);
  });

  test('connection.close() detaches every subscription without onEnd; it is idempotent; later subscribes are no-ops', async () => {
    const s = await setup();
    const onEnd = vi.fn();
    const outlet = new FakeOutlet('legacy');
    const connection: EngineConnection = s.engine.connect(outlet);
    const subscription = connection.subscribe(request('transactions'), fakeRenderer('A'), { onEnd });
    connection.subscribe(request('validators'), fakeRenderer('V'), { onEnd });
    s.publish('transactions', tx(1));
    connection.close();
    expect(s.engine.subscriberCount()).toBe(0);
    expect(connection.size).toBe(0);
    connection.close();
    subscription.end();
    s.publish('transactions', tx(2));
    const late = connection.subscribe(request('transactions', undefined, { replay: 2 }), fakeRenderer('A'), { onEnd });
    late.end();
    s.engine.endAll();
    expect(onEnd).not.toHaveBeenCalled();
    expect(seqsOf(outlet, 'A')).toEqual([1]);
    expect(s.engine.subscriberCount()).toBe(0);
  });
});

describe('render failures', () => {
  test('are counted, logged once, and skip only the failing group', async () => {
    const s = await setup();
    const broken: Renderer = {
      key: 'broken',
      render: (item) => {
        if (item.seq % 2 === 0) throw new Error(`cannot render ${item.seq}`);
        return `broken#${item.seq}`;
      },
      renderError: (error) => `broken!${error.code}`,
    };
    const good = new FakeOutlet('graphql-ws');
    const badA = new FakeOutlet('graphql-ws');
    const badB = new FakeOutlet('sse');
    s.engine.connect(good).subscribe(request('transactions'), fakeRenderer('A'));
    s.engine.connect(badA).subscribe(request('transactions'), broken);
    s.engine.connect(badB).subscribe(request('transactions'), broken);

    for (let i = 1; i <= 4; i++) s.publish('transactions', tx(i));
    expect(seqsOf(good, 'A')).toEqual([1, 2, 3, 4]);
    expect(seqsOf(badA, 'broken')).toEqual([1, 3]);
    expect(seqsOf(badB, 'broken')).toEqual([1, 3]);
    // One failure per event per group, not per subscriber.
    expect(s.counters.stats.renderErrors).toBe(2);
    expect(s.logger.error).toHaveBeenCalledTimes(1);
    expect(s.logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ stream: 'transactions' }),
      expect.stringContaining('rendering an event failed'),
    );
    // Subscribers stay; the next events flow.
    expect(s.engine.subscriberCount('transactions')).toBe(3);

    // History that fails to render is skipped and counted the same way.
    const resumed = new FakeOutlet('legacy');
    s.engine.connect(resumed).subscribe(request('transactions', undefined, { replay: 4 }), { ...broken, key: 'broken-2' });
    expect(seqsOf(resumed, 'broken')).toEqual([1, 3]);
    expect(s.counters.stats.renderErrors).toBe(4);
    expect(s.logger.error).toHaveBeenCalledTimes(1);
  });
});

function validatorlessConsensus(): EventOf<'consensus'> {
  return {
    timestamp: '2025-10-25T09:35:00.000Z',
    leader: `0x${'c'.repeat(40)}`,
    epoch: 1,
    round: 1,
    term: 1,
    state: 'PENDING',
    performanceScore: 1,
    activeValidators: 4,
  };
}
