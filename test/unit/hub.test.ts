import { describe, expect, test } from 'vitest';
import { RealtimeError } from '../../src/errors.ts';
import { decodeCursor, encodeCursor, newEpoch } from '../../src/streams/cursor.ts';
import type { StreamFilter } from '../../src/streams/filters.ts';
import { createStreamHub, type HubOptions, type StreamItem } from '../../src/streams/hub.ts';
import { STREAM } from '../../src/streams/registry.ts';
import type { MetricsEvent, TransactionEvent } from '../helpers/contract.ts';
import { snapshot, tx } from './fakes.ts';

type Item = StreamItem<'transactions'>;

function hub(options: Partial<HubOptions> = {}) {
  return createStreamHub('transactions', { bufferSize: 1000, ttlMs: 0, ...options });
}

const seqs = (items: readonly { seq: number }[]) => items.map((i) => i.seq);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const failedOnly: StreamFilter<TransactionEvent> = { key: 'status=FAILED', matches: (e) => e.status === 'FAILED' };

/** Publishes tx(from..to) and returns the items (each publish without a seq is never dropped). */
function publishRange(h: ReturnType<typeof hub>, from: number, to: number): Item[] {
  return range(from, to).map((i) => h.publish(tx(i)) as Item);
}

describe('sequence and cursors', () => {
  test('seq is strictly increasing from 1 and every cursor decodes to (hub epoch, seq)', () => {
    const h = hub();
    expect(h.lastSeq).toBe(0);
    expect(h.latest()).toBeUndefined();
    const published = publishRange(h, 1, 50);
    expect(seqs(published)).toEqual(range(1, 50));
    for (const item of published) expect(decodeCursor(item.cursor)).toEqual({ epoch: h.epoch, seq: item.seq });
    // The item is the event plus its place; the event's fields are untouched.
    expect(published[6]).toEqual({ ...tx(7), seq: 7, cursor: published[6]?.cursor });
    expect(h.latest()?.seq).toBe(50);
    expect(h.lastSeq).toBe(50);
    expect(h.counters).toEqual({ published: 50, redeliveries: 0 });
    expect(new Set(published.map((p) => p.cursor)).size).toBe(50);
  });

  test('two hubs have different epochs, so their cursors differ for the same seq', () => {
    const a = hub();
    const b = hub();
    expect(a.epoch).not.toBe(b.epoch);
    expect(a.publish(tx(1))?.cursor).not.toBe(b.publish(tx(1))?.cursor);
  });

  test('encode/decode round-trips', () => {
    for (const position of [
      { epoch: newEpoch(), seq: 0 },
      { epoch: 'abc', seq: 1 },
      { epoch: 'f'.repeat(32), seq: Number.MAX_SAFE_INTEGER },
    ]) {
      const cursor = encodeCursor(position);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor)).toEqual(position);
    }
    expect(newEpoch()).toMatch(/^[0-9a-f]{12}$/);
  });

  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  test.each([
    ['empty', ''],
    ['garbage', 'not a cursor!'],
    ['random base64', b64('hello world')],
    ['Relay connection cursor', b64('arrayconnection:5')],
    ['other version', b64('v2:abc:1')],
    ['missing seq', b64('v1:abc')],
    ['extra part', b64('v1:abc:1:2')],
    ['upper-case epoch', b64('v1:ABC:1')],
    ['non-hex epoch', b64('v1:xyz:1')],
    ['empty epoch', b64('v1::1')],
    ['negative seq', b64('v1:abc:-1')],
    ['leading zero', b64('v1:abc:01')],
    ['fractional seq', b64('v1:abc:1.5')],
    ['seq with exponent', b64('v1:abc:1e3')],
    ['over-long', b64(`v1:abc:1${' '.repeat(200)}`)],
    ['over-long input', 'A'.repeat(129)],
  ])('%s decodes to null', (_, cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });
});

describe('publish with a bus seq', () => {
  test('a bus-assigned seq is kept (gaps included); an event at or below the last seq is a dropped redelivery', () => {
    const h = hub();
    const heard: number[] = [];
    h.listen((item) => heard.push(item.seq));
    expect(h.publish(tx(1), 5)?.seq).toBe(5);
    // Another instance published 6..9: this one jumps, it does not renumber.
    expect(h.publish(tx(2), 10)?.seq).toBe(10);
    expect(h.publish(tx(3), 10)).toBeUndefined();
    expect(h.publish(tx(4), 7)).toBeUndefined();
    expect(h.counters).toEqual({ published: 2, redeliveries: 2 });
    // Without a seq the hub continues its own numbering after the last one.
    expect(h.publish(tx(5))?.seq).toBe(11);
    expect(heard).toEqual([5, 10, 11]);
    expect(seqs(h.recent(10))).toEqual([5, 10, 11]);
    expect(h.lastSeq).toBe(11);
  });

  test('resume across a seq gap made by the bus is clean: the missing numbers were never this stream’s', () => {
    const h = hub();
    const first = h.publish(tx(1), 3) as Item;
    h.publish(tx(2), 8);
    h.publish(tx(3), 9);
    const backlog = h.backlog({ after: first.cursor });
    expect(backlog.gap).toBeNull();
    expect(seqs(backlog.items)).toEqual([8, 9]);
  });
});

describe('adopt', () => {
  test('takes the shared epoch and items, so cursors mean the same on every instance; numbering continues after them', () => {
    const h = hub();
    const before = h.publish(tx(1)) as Item;
    const epoch = newEpoch();
    h.adopt({ epoch, items: [10, 11, 12].map((seq) => ({ event: tx(seq), seq })) });
    expect(h.epoch).toBe(epoch);
    expect(h.lastSeq).toBe(12);
    expect(seqs(h.recent(10))).toEqual([10, 11, 12]);
    expect(h.latest()).toMatchObject({ ...tx(12), seq: 12, cursor: encodeCursor({ epoch, seq: 12 }) });
    expect(h.publish(tx(13))?.seq).toBe(13);
    // A cursor minted here before the adoption belongs to another history now.
    expect(h.backlog({ after: before.cursor }).gap?.code).toBe('REPLAY_GAP');
    // One minted by another instance sharing the history resumes cleanly.
    const shared = h.backlog({ after: encodeCursor({ epoch, seq: 11 }) });
    expect(shared.gap).toBeNull();
    expect(seqs(shared.items)).toEqual([12, 13]);
  });

  test('an empty history (the bus lost it) restarts numbering at 1 under the new epoch', () => {
    const h = hub();
    publishRange(h, 1, 5);
    h.adopt({ epoch: 'abcdef', items: [] });
    expect(h.lastSeq).toBe(0);
    expect(h.recent(10)).toEqual([]);
    expect(h.latest()).toBeUndefined();
    expect(h.publish(tx(6))?.cursor).toBe(encodeCursor({ epoch: 'abcdef', seq: 1 }));
  });

  test('adopted items age from when the bus took them, never from the future', () => {
    let clock = 100_000;
    const h = hub({ ttlMs: 1000, now: () => clock });
    h.adopt({
      epoch: 'aa',
      items: [
        { event: tx(1), seq: 1, receivedAt: clock - 1500 },
        { event: tx(2), seq: 2, receivedAt: clock - 500 },
        // A clock ahead of ours counts as now.
        { event: tx(3), seq: 3, receivedAt: clock + 60_000 },
        { event: tx(4), seq: 4 },
      ],
    });
    expect(seqs(h.recent(10))).toEqual([2, 3, 4]);
    clock += 501;
    expect(seqs(h.recent(10))).toEqual([3, 4]);
    clock += 500;
    expect(h.recent(10)).toEqual([]);
  });
});

describe('listen', () => {
  test('listeners get every published item in order, synchronously; the returned function unsubscribes', () => {
    const h = hub();
    const a: number[] = [];
    const b: number[] = [];
    const stopA = h.listen((item) => a.push(item.seq));
    h.listen((item) => b.push(item.seq));
    h.publish(tx(1));
    expect(a).toEqual([1]);
    h.publish(tx(2));
    stopA();
    h.publish(tx(3));
    expect(a).toEqual([1, 2]);
    expect(b).toEqual([1, 2, 3]);
  });

  test('a listener sees the item already retained: a backlog taken inside it covers the item', () => {
    const h = hub();
    publishRange(h, 1, 3);
    let inside: { through: number; items: number[] } | undefined;
    h.listen((item) => {
      const backlog = h.backlog({ replay: 2 });
      inside = { through: backlog.through, items: seqs(backlog.items) };
      expect(item.seq).toBe(4);
    });
    h.publish(tx(4));
    expect(inside).toEqual({ through: 4, items: [3, 4] });
  });
});

describe('backlog', () => {
  test('with `after`, exactly the retained events after the cursor; `through` is where live continues', () => {
    const h = hub();
    const published = publishRange(h, 1, 10);
    const backlog = h.backlog({ after: published[3]?.cursor });
    expect(backlog.gap).toBeNull();
    expect(seqs(backlog.items)).toEqual(range(5, 10));
    expect(backlog.through).toBe(10);
  });

  test('taken and followed by listen in one turn: no gap and no duplicate while publishes interleave', () => {
    const h = hub({ bufferSize: 10_000 });
    const subscribers: { from: number; got: number[] }[] = [];
    const cursors: string[] = [];
    for (let i = 1; i <= 300; i++) {
      cursors.push((h.publish(tx(i)) as Item).cursor);
      if (i % 3 !== 0) continue;
      const from = i - (i % 7); // 0..6 events behind the head
      const after = from === 0 ? encodeCursor({ epoch: h.epoch, seq: 0 }) : cursors[from - 1];
      const backlog = h.backlog({ after });
      const got = seqs(backlog.items);
      h.listen((item) => {
        if (item.seq > backlog.through) got.push(item.seq);
      });
      expect(backlog.gap).toBeNull();
      expect(got).toEqual(range(from + 1, i));
      subscribers.push({ from, got });
    }
    for (const { from, got } of subscribers) expect(got).toEqual(range(from + 1, 300));
  });

  test('a cursor at the latest event resumes with an empty backlog', () => {
    const h = hub();
    const last = publishRange(h, 1, 5).at(-1) as Item;
    expect(h.backlog({ after: last.cursor })).toEqual({ items: [], gap: null, through: 5 });
  });

  test('`after` with a filter resumes only the matching events', () => {
    const h = hub();
    const published = publishRange(h, 1, 12);
    const backlog = h.backlog({ after: published[1]?.cursor }, failedOnly);
    expect(seqs(backlog.items)).toEqual([3, 6, 9, 12]);
    expect(backlog.gap).toBeNull();
  });

  test('a cursor of this history but past its newest event (a history that went backwards) is a REPLAY_GAP, never silence', () => {
    const h = hub();
    publishRange(h, 1, 5);
    const backlog = h.backlog({ after: encodeCursor({ epoch: h.epoch, seq: 9 }) });
    expect(backlog.items).toEqual([]);
    expect(backlog.gap?.code).toBe('REPLAY_GAP');
    expect(backlog.gap?.message).toMatch(/ahead of this stream's history/);
    expect(backlog.through).toBe(5);
  });

  test('a cursor from another epoch (a restarted server) is a REPLAY_GAP with an empty backlog', () => {
    const foreign = (hub().publish(tx(1)) as Item).cursor;
    const h = hub();
    publishRange(h, 1, 5);
    const backlog = h.backlog({ after: foreign });
    expect(backlog.items).toEqual([]);
    expect(backlog.through).toBe(5);
    expect(backlog.gap).toBeInstanceOf(RealtimeError);
    expect(backlog.gap?.code).toBe('REPLAY_GAP');
    expect(backlog.gap?.details['stream']).toBe('transactions');
    // The client is told where this history starts.
    expect(decodeCursor(backlog.gap?.details['oldestCursor'] as string)).toEqual({ epoch: h.epoch, seq: 0 });
  });

  test('an unreadable cursor is a REPLAY_GAP, not an exception', () => {
    const h = hub();
    h.publish(tx(1));
    const backlog = h.backlog({ after: 'garbage' });
    expect(backlog.gap?.code).toBe('REPLAY_GAP');
    expect(backlog.items).toEqual([]);
  });

  test('a cursor older than the ring (bufferSize) is a REPLAY_GAP that still replays what is retained', () => {
    const h = hub({ bufferSize: 5 });
    const published = publishRange(h, 1, 20);
    const cursorOf = (seq: number) => (published[seq - 1] as Item).cursor;
    expect(seqs(h.recent(100))).toEqual(range(16, 20));

    // 15 is the newest lost event; resuming after it loses nothing.
    const exact = h.backlog({ after: cursorOf(15) });
    expect(exact.gap).toBeNull();
    expect(seqs(exact.items)).toEqual(range(16, 20));

    // After 14, event 15 is gone.
    const lost = h.backlog({ after: cursorOf(14) });
    expect(lost.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(lost.items)).toEqual(range(16, 20));
    expect(decodeCursor(lost.gap?.details['oldestCursor'] as string)).toEqual({ epoch: h.epoch, seq: 15 });

    const older = h.backlog({ after: cursorOf(3) }, failedOnly);
    expect(older.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(older.items)).toEqual([18]);
  });

  test('a cursor older than the TTL is a REPLAY_GAP (injectable clock)', () => {
    let clock = 1_000_000;
    const h = hub({ bufferSize: 100, ttlMs: 1000, now: () => clock });
    const early = publishRange(h, 1, 5);
    clock += 600;
    const late = publishRange(h, 6, 8);
    const cursorOf = (seq: number) => ([...early, ...late][seq - 1] as Item).cursor;

    // At exactly the TTL the early events are still retained.
    clock += 400;
    expect(h.backlog({ after: cursorOf(2) }).gap).toBeNull();
    expect(seqs(h.recent(100))).toEqual(range(1, 8));

    // One ms later they have expired: 1..5 are gone.
    clock += 1;
    expect(seqs(h.recent(100))).toEqual(range(6, 8));
    const gap = h.backlog({ after: cursorOf(2) });
    expect(gap.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(gap.items)).toEqual(range(6, 8));
    const ok = h.backlog({ after: cursorOf(5) });
    expect(ok.gap).toBeNull();
    expect(seqs(ok.items)).toEqual(range(6, 8));

    // Everything expired: the latest cursor is still a clean resume, an earlier one is not.
    clock += 10_000;
    expect(h.recent(100)).toEqual([]);
    expect(h.backlog({ after: cursorOf(8) })).toMatchObject({ items: [], gap: null });
    const stale = h.backlog({ after: cursorOf(7) });
    expect(stale.gap?.code).toBe('REPLAY_GAP');
    expect(stale.items).toEqual([]);
  });

  test('`replay: N` returns the last N retained matching events, oldest first', () => {
    const h = hub({ bufferSize: 10 });
    publishRange(h, 1, 30);
    expect(seqs(h.backlog({ replay: 3 }).items)).toEqual([28, 29, 30]);
    expect(seqs(h.backlog({ replay: 3 }, failedOnly).items)).toEqual([24, 27, 30]);
    // No more than is retained (the ring holds 21..30).
    expect(seqs(h.backlog({ replay: 100 }, failedOnly).items)).toEqual([21, 24, 27, 30]);
    expect(h.backlog({ replay: 0 })).toEqual({ items: [], gap: null, through: 30 });
    expect(h.backlog({})).toEqual({ items: [], gap: null, through: 30 });
  });

  test('a stateful filter judges history with a fresh instance (forHistory), leaving the live one untouched', () => {
    const metrics = createStreamHub('metrics', { bufferSize: 100, ttlMs: 0 });
    for (let i = 0; i < 10; i++) metrics.publish(snapshot(i));
    const live = STREAM.metrics.filterDef.parse({ intervalMs: 3000 }, { metricsIntervalMs: 1000 }) as StreamFilter<MetricsEvent>;
    expect(live.forHistory).toBeTypeOf('function');
    // The live instance has already let snapshot 9 through.
    expect(live.matches(snapshot(9))).toBe(true);
    const first = metrics.backlog({ replay: 10 }, live);
    const second = metrics.backlog({ replay: 10 }, live);
    // Every third snapshot of the history, newest kept, judged from scratch each time.
    expect(first.items.map((item) => item.tps)).toEqual([0, 3, 6, 9]);
    expect(second.items).toEqual(first.items);
    // `replay: N` keeps the newest N of that conflated history, not just the newest one.
    expect(metrics.backlog({ replay: 2 }, live).items.map((item) => item.tps)).toEqual([6, 9]);
    // Live state was not advanced by the history: 10 is too soon after 9, 12 is not.
    expect(live.matches(snapshot(10))).toBe(false);
    expect(live.matches(snapshot(12))).toBe(true);
  });

  test('`recent(limit)` is the newest `limit` retained, oldest first', () => {
    const h = hub({ bufferSize: 4 });
    publishRange(h, 1, 6);
    expect(seqs(h.recent(2))).toEqual([5, 6]);
    expect(seqs(h.recent(100))).toEqual([3, 4, 5, 6]);
    expect(h.recent(0)).toEqual([]);
  });

  test('a ring of size 0 keeps nothing: every resume past the head is a gap, live numbering still works', () => {
    const h = hub({ bufferSize: 0 });
    const published = publishRange(h, 1, 3);
    expect(h.recent(10)).toEqual([]);
    expect(h.backlog({ after: published[2]?.cursor }).gap).toBeNull();
    expect(h.backlog({ after: published[1]?.cursor }).gap?.code).toBe('REPLAY_GAP');
    expect(h.lastSeq).toBe(3);
  });
});
