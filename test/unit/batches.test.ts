import { unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createMemoryBus } from '../../src/bus/memory.ts';
import { BATCH_BOUNDS, parseBatchSpec, type BatchSpec } from '../../src/engine/batches.ts';
import { createDeliveryCounters } from '../../src/engine/counters.ts';
import { createDeliveryEngine, type DeliveryRequest, type Renderer } from '../../src/engine/engine.ts';
import { createContractRenderer } from '../../src/engine/renderers.ts';
import type { RealtimeError } from '../../src/errors.ts';
import type { StreamFilter } from '../../src/streams/filters.ts';
import type { StreamItem } from '../../src/streams/hub.ts';
import { encodeCursor } from '../../src/streams/cursor.ts';
import { createStreams } from '../../src/streams/index.ts';
import type { AnyEvent, EventOf } from '../../src/streams/registry.ts';
import { FakeOutlet, fakeLogger, fakeRenderer, frameText, tx, type RenderCalls } from './fakes.ts';

/*
 * The batch module through the real engine over real hubs: only the outlets
 * and renderers are fakes. A fake batch frame is `KEY[seq,seq,…]`; timers are
 * vitest's, so "maxDelayMs passed" is a step of the test, not a wait.
 */

const cleanups: (() => void)[] = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  vi.useRealTimers();
});

async function setup(options: { bufferLimitBytes?: number; bufferSize?: number } = {}) {
  const bus = createMemoryBus({ dedupWindowMs: 0 });
  const streams = createStreams(bus, { bufferSize: options.bufferSize ?? 1000, ttlMs: 0 });
  await bus.start();
  await streams.start();
  const counters = createDeliveryCounters({ targetMs: Number.MAX_SAFE_INTEGER, logger: fakeLogger() });
  const engine = createDeliveryEngine({
    streams,
    counters,
    logger: fakeLogger(),
    bufferLimitBytes: options.bufferLimitBytes ?? 1_000_000,
    lagLimitMs: 5000,
  });
  engine.start();
  cleanups.push(() => {
    engine.stop();
    streams.stop();
    void bus.stop();
  });
  const hub = streams.hub('transactions');
  let n = 0;
  return {
    streams,
    engine,
    counters,
    /** Publishes `count` transactions; the memory bus fans out synchronously. */
    publish(count = 1) {
      for (let i = 0; i < count; i++) void bus.publish('transactions', tx(++n));
    },
    cursorOf(seq: number): string {
      const item = hub.recent(1000).find((entry) => entry.seq === seq);
      if (!item) throw new Error(`seq ${seq} is not retained`);
      return item.cursor;
    },
  };
}

/** A fake renderer that also renders batches, recording each batch's seqs. */
function batchRenderer(key: string, calls: RenderCalls & { batches: number[][] } = { render: [], errors: [], batches: [] }) {
  return Object.assign(fakeRenderer(key, calls), {
    calls,
    renderBatch(items: readonly StreamItem[]) {
      const seqs = items.map((item) => item.seq);
      calls.batches.push(seqs);
      return `${key}[${seqs.join(',')}]`;
    },
  }) satisfies Renderer;
}

const request = (
  batch: BatchSpec | undefined,
  position: DeliveryRequest['position'] = {},
  filter?: StreamFilter<AnyEvent>,
): DeliveryRequest => ({
  stream: 'transactions',
  filter,
  position,
  batch,
});

/** The batches (as seq lists) an outlet received from `key`. */
function batchesOf(outlet: FakeOutlet, key = 'A'): number[][] {
  return outlet
    .texts()
    .filter((text) => text.startsWith(`${key}[`))
    .map((text) =>
      text === `${key}[]`
        ? []
        : text
            .slice(key.length + 1, -1)
            .split(',')
            .map(Number),
    );
}

const spec = (maxEvents: number, maxDelayMs = 100): BatchSpec => ({ maxEvents, maxDelayMs });
const failedOnly = (): StreamFilter<AnyEvent> => ({ key: 'failed', matches: (e) => (e as EventOf<'transactions'>).status === 'FAILED' });

describe('batch groups', () => {
  test('a full batch goes out at once; a partial one when maxDelayMs has passed since its first event', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('graphql-ws');
    s.engine.connect(outlet).subscribe(request(spec(3, 100)), batchRenderer('A'));
    s.publish(7);
    expect(batchesOf(outlet)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    // Event 7 waits for its timer, started when it arrived.
    vi.advanceTimersByTime(99);
    expect(batchesOf(outlet)).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(batchesOf(outlet)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    // Nothing pending: no timer, no empty message.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(batchesOf(outlet)).toHaveLength(3);
    // One message is one live frame; its events are not counted as separate messages.
    expect(s.counters.stats.sentBy.transactions['graphql-ws']).toBe(3);
  });

  test('identical batch subscriptions share one pending batch, one timer and one rendering per batch', async () => {
    const s = await setup();
    const calls = { render: [], errors: [], batches: [] } as RenderCalls & { batches: number[][] };
    const outlets = ['graphql-ws', 'sse', 'multipart', 'graphql-ws'].map((t) => new FakeOutlet(t as FakeOutlet['transport']));
    for (const outlet of outlets) s.engine.connect(outlet).subscribe(request(spec(5, 50)), batchRenderer('A', calls));
    // Other options are another group: another batch, another timer.
    const other = new FakeOutlet('legacy');
    s.engine.connect(other).subscribe(request(spec(5, 80)), batchRenderer('A'));
    expect(s.engine.groupCount('transactions')).toBe(2);
    s.publish(2);
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(50);
    for (const outlet of outlets) expect(batchesOf(outlet)).toEqual([[1, 2]]);
    expect(calls.batches).toEqual([[1, 2]]);
    expect(calls.render).toEqual([]);
    expect(batchesOf(other)).toEqual([]);
    vi.advanceTimersByTime(30);
    expect(batchesOf(other)).toEqual([[1, 2]]);
  });

  test('a filter applies per event: a batch holds only matching events', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('sse');
    s.engine.connect(outlet).subscribe(request(spec(2), {}, failedOnly()), batchRenderer('F'));
    // FAILED is every third transaction.
    s.publish(12);
    expect(batchesOf(outlet, 'F')).toEqual([
      [3, 6],
      [9, 12],
    ]);
  });

  test('the last subscriber out removes the group and its timer: nothing is rendered for nobody', async () => {
    const s = await setup();
    const calls = { render: [], errors: [], batches: [] } as RenderCalls & { batches: number[][] };
    const subscription = s.engine.connect(new FakeOutlet()).subscribe(request(spec(10)), batchRenderer('A', calls));
    s.publish(3);
    expect(vi.getTimerCount()).toBe(1);
    subscription.end();
    expect(vi.getTimerCount()).toBe(0);
    expect(s.engine.groupCount('transactions')).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(calls.batches).toEqual([]);
  });

  test('a renderer without renderBatch is refused (a transport that cannot frame batches), and joins no group', async () => {
    const s = await setup();
    expect(() => s.engine.connect(new FakeOutlet()).subscribe(request(spec(10)), fakeRenderer('A'))).toThrow(/cannot render batches/);
    expect(s.engine.subscriberCount('transactions')).toBe(0);
  });
});

describe('resume and replay per event', () => {
  test('resume: the retained events after the cursor go out at once in batches of at most maxEvents, then live batches', async () => {
    const s = await setup();
    s.publish(10);
    const outlet = new FakeOutlet('legacy');
    s.engine.connect(outlet).subscribe(request(spec(3), { after: s.cursorOf(3) }), batchRenderer('A'));
    expect(batchesOf(outlet)).toEqual([[4, 5, 6], [7, 8, 9], [10]]);
    s.publish(4);
    expect(batchesOf(outlet).slice(3)).toEqual([[11, 12, 13]]);
    vi.advanceTimersByTime(100);
    expect(batchesOf(outlet).flat()).toEqual(Array.from({ length: 11 }, (_, i) => i + 4));
    // History counted per event, live per message.
    expect(s.counters.stats.historyBy.transactions.legacy).toBe(7);
    expect(s.counters.stats.sentBy.transactions.legacy).toBe(2);
  });

  test('replay: N sends the last N in batches, then live', async () => {
    const s = await setup();
    s.publish(10);
    const outlet = new FakeOutlet('sse');
    s.engine.connect(outlet).subscribe(request(spec(4), { replay: 6 }), batchRenderer('A'));
    s.publish(1);
    vi.advanceTimersByTime(100);
    expect(batchesOf(outlet)).toEqual([[5, 6, 7, 8], [9, 10], [11]]);
  });

  test('joining while the group holds a partial batch: neither a missed nor a repeated event, whatever the start', async () => {
    const s = await setup();
    const calls = { render: [], errors: [], batches: [] } as RenderCalls & { batches: number[][] };
    const first = new FakeOutlet('graphql-ws');
    s.engine.connect(first).subscribe(request(spec(100)), batchRenderer('A', calls));
    s.publish(3);
    // Events 1–3 are pending. A live-only subscriber starts after 3; one resuming from 1 gets 2–3 as history.
    const liveOnly = new FakeOutlet('graphql-ws');
    const resumed = new FakeOutlet('sse');
    const alsoLive = new FakeOutlet('legacy');
    s.engine.connect(liveOnly).subscribe(request(spec(100)), batchRenderer('A', calls));
    s.engine.connect(resumed).subscribe(request(spec(100), { after: s.cursorOf(1) }), batchRenderer('A', calls));
    s.engine.connect(alsoLive).subscribe(request(spec(100)), batchRenderer('A', calls));
    expect(batchesOf(resumed)).toEqual([[2, 3]]);
    s.publish(2);
    vi.advanceTimersByTime(100);
    expect(batchesOf(first)).toEqual([[1, 2, 3, 4, 5]]);
    expect(batchesOf(liveOnly)).toEqual([[4, 5]]);
    expect(batchesOf(resumed)).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(batchesOf(alsoLive)).toEqual([[4, 5]]);
    // The shared rendering, the resume's history, and one trimmed rendering shared by the three that joined at 3.
    expect(calls.batches).toEqual([
      [2, 3],
      [1, 2, 3, 4, 5],
      [4, 5],
    ]);
    // From the next batch on, everyone shares one rendering again.
    s.publish(1);
    vi.advanceTimersByTime(100);
    for (const outlet of [first, liveOnly, resumed, alsoLive]) expect(batchesOf(outlet).at(-1)).toEqual([6]);
    expect(calls.batches.at(-1)).toEqual([6]);
    expect(calls.batches).toHaveLength(4);
  });

  test('a subscriber that joined after every pending event (its backlog had them all) gets none of them again', async () => {
    const s = await setup();
    const first = new FakeOutlet();
    s.engine.connect(first).subscribe(request(spec(100)), batchRenderer('A'));
    s.publish(2);
    const resumed = new FakeOutlet();
    s.engine.connect(resumed).subscribe(request(spec(100), { replay: 2 }), batchRenderer('A'));
    vi.advanceTimersByTime(100);
    expect(batchesOf(first)).toEqual([[1, 2]]);
    expect(batchesOf(resumed)).toEqual([[1, 2]]);
  });

  test('REPLAY_GAP goes first as the renderer error, then what is retained, in batches', async () => {
    const s = await setup({ bufferSize: 4 });
    s.publish(8);
    // Events after seq 2 are no longer all retained (5–8 are): the notice, then everything retained.
    const stale = new FakeOutlet('sse');
    const after = encodeCursor({ epoch: s.streams.hub('transactions').epoch, seq: 2 });
    s.engine.connect(stale).subscribe(request(spec(3), { after }), batchRenderer('A'));
    expect(stale.texts()).toEqual(['A!REPLAY_GAP', 'A[5,6,7]', 'A[8]']);

    // A cursor from another history: the notice, then live only.
    const foreign = new FakeOutlet('sse');
    s.engine.connect(foreign).subscribe(request(spec(3), { after: 'not-a-cursor' }), batchRenderer('A'));
    s.publish(1);
    vi.advanceTimersByTime(100);
    expect(foreign.texts()).toEqual(['A!REPLAY_GAP', 'A[9]']);
  });

  test('a history reset: the pending batch (old history) goes out first, then the notice; numbering restarts', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('graphql-ws');
    s.engine.connect(outlet).subscribe(request(spec(100)), batchRenderer('A'));
    s.publish(3);
    s.streams.hub('transactions').adopt({ epoch: 'abcdef', items: [] });
    expect(outlet.texts()).toEqual(['A[1,2,3]', 'A!REPLAY_GAP']);
    s.publish(2);
    vi.advanceTimersByTime(100);
    expect(outlet.texts().at(-1)).toBe('A[1,2]');
  });

  test('drain: pending batches go out before the subscriptions end', async () => {
    const s = await setup();
    const outlet = new FakeOutlet('graphql-ws');
    const ended: string[] = [];
    outlet.onWrite = (frame) => ended.push(frameText(frame));
    s.engine.connect(outlet).subscribe(request(spec(100)), batchRenderer('A'), { onEnd: () => ended.push('complete') });
    s.publish(2);
    s.engine.endAll();
    expect(ended).toEqual(['A[1,2]', 'complete']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('slow consumers', () => {
  test('a batched connection is judged by the live budget at each batch; the others in its group still get it', async () => {
    const s = await setup({ bufferLimitBytes: 1000 });
    const slow = new FakeOutlet('graphql-ws');
    const fast = new FakeOutlet('legacy');
    s.engine.connect(slow).subscribe(request(spec(2)), batchRenderer('A'));
    s.engine.connect(fast).subscribe(request(spec(2)), batchRenderer('A'));
    s.publish(2);
    slow.pending = 1001;
    slow.lag = 501;
    s.publish(2);
    expect(slow.aborts.map((e: RealtimeError) => e.code)).toEqual(['SLOW_CONSUMER']);
    expect(batchesOf(slow)).toEqual([[1, 2]]);
    expect(batchesOf(fast)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(s.counters.stats.terminatedBy.get('graphql-ws\u0000slow-consumer')).toBe(1);
    expect(s.engine.subscriberCount('transactions')).toBe(1);
  });

  test('an unbatched subscriber that falls behind is closed by its policy; a batched one of the same stream goes on', async () => {
    const s = await setup({ bufferLimitBytes: 1000 });
    const unbatched = new FakeOutlet('graphql-ws');
    const batched = new FakeOutlet('graphql-ws');
    s.engine.connect(unbatched).subscribe(request(undefined), batchRenderer('U'));
    s.engine.connect(batched).subscribe(request(spec(50)), batchRenderer('A'));
    s.publish(5);
    unbatched.pending = 1001;
    unbatched.lag = 501;
    s.publish(95);
    expect(unbatched.aborts).toHaveLength(1);
    expect(unbatched.texts()).toEqual(['U#1', 'U#2', 'U#3', 'U#4', 'U#5']);
    expect(batchesOf(batched).flat()).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});

describe('parseBatchSpec', () => {
  test('defaults for options left out; bounds checked with the name the client wrote', () => {
    expect(parseBatchSpec({})).toEqual({ maxEvents: BATCH_BOUNDS.maxEvents.default, maxDelayMs: BATCH_BOUNDS.maxDelayMs.default });
    expect(parseBatchSpec({ maxEvents: 1, maxDelayMs: null })).toEqual({ maxEvents: 1, maxDelayMs: 100 });
    expect(parseBatchSpec({ maxEvents: 1000, maxDelayMs: 10_000 })).toEqual({ maxEvents: 1000, maxDelayMs: 10_000 });
    const refused = (input: Parameters<typeof parseBatchSpec>[0], names?: Parameters<typeof parseBatchSpec>[1]) => {
      try {
        parseBatchSpec(input, names);
      } catch (error) {
        return error as RealtimeError;
      }
      throw new Error(`accepted ${JSON.stringify(input)}`);
    };
    for (const [input, argument] of [
      [{ maxEvents: 0 }, 'batch.maxEvents'],
      [{ maxEvents: 1001 }, 'batch.maxEvents'],
      [{ maxEvents: 2.5 }, 'batch.maxEvents'],
      [{ maxDelayMs: 9 }, 'batch.maxDelayMs'],
      [{ maxDelayMs: 10_001 }, 'batch.maxDelayMs'],
      [{ maxDelayMs: Number.NaN }, 'batch.maxDelayMs'],
    ] as const) {
      const error = refused(input);
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.details['argument']).toBe(argument);
      expect(error.message).toMatch(new RegExp(`^${argument.replace('.', '\\.')}: must be an integer from \\d+ to \\d+`));
    }
    expect(refused({ maxEvents: -1 }, { maxEvents: 'batch', maxDelayMs: 'batchMs' }).message).toBe(
      'batch: must be an integer from 1 to 1000 (default 100)',
    );
  });
});

describe('legacy batch frames', () => {
  test('a batch is an array whose elements are, byte for byte, the frames of its events (JSON and MessagePack)', async () => {
    const s = await setup();
    s.publish(3);
    const items = s.streams.hub('transactions').recent(3);
    for (const meta of [false, true]) {
      const json = createContractRenderer('transactions', { meta, encoding: 'json' });
      const array = frameText(json.renderBatch?.(items) as Buffer);
      expect(array).toBe(`[${items.map((item) => frameText(json.render(item))).join(',')}]`);
      expect((JSON.parse(array) as unknown[]).length).toBe(3);
    }
    const packed = createContractRenderer('transactions', { meta: true, encoding: 'msgpack' });
    const decoded = unpack(packed.renderBatch?.(items) as Buffer) as unknown[];
    expect(decoded).toEqual(items.map((item) => unpack(packed.render(item) as Buffer)));
  });
});
