import { describe, expect, test, vi } from 'vitest';
import { toTimestamp, type TransactionEvent } from '../../src/domain/index.ts';
import { RealtimeError } from '../../src/errors.ts';
import { decodeCursor, encodeCursor, newEpoch } from '../../src/streams/cursor.ts';
import {
  createStreamHub,
  isGapNotice,
  type GapNotice,
  type HubOptions,
  type StreamFilter,
  type StreamItem,
  type Transport,
} from '../../src/streams/hub.ts';

type Item = StreamItem<'transactions'>;

const BASE = Date.UTC(2025, 9, 25, 9, 35, 0, 0);

/** A transaction whose gasUsed carries its publish index, so filters and order are easy to check. */
function tx(i: number): TransactionEvent {
  return {
    timestamp: toTimestamp(BASE + i),
    txHash: `0x${i.toString(16).padStart(64, '0')}`,
    from: `0x${'a'.repeat(40)}`,
    to: `0x${'b'.repeat(40)}`,
    value: `${i}000000000000000000`,
    status: i % 3 === 0 ? 'FAILED' : 'SUCCESS',
    gasUsed: 21_000 + i,
  };
}

function hub(options: Partial<HubOptions<'transactions'>> = {}) {
  return createStreamHub('transactions', {
    bufferSize: 1000,
    ttlMs: 0,
    queueLimit: 100,
    overflow: 'error',
    ...options,
  });
}

const seqs = (items: readonly Item[]) => items.map((i) => i.seq);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const failedOnly: StreamFilter<'transactions'> = { key: 'status=FAILED', matches: (e) => e.status === 'FAILED' };

async function expectRealtimeError(promise: Promise<unknown>, code: string): Promise<RealtimeError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} rejection`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RealtimeError);
  expect((error as RealtimeError).code).toBe(code);
  return error as RealtimeError;
}

describe('sequence and cursors', () => {
  test('seq is strictly increasing from 1 and every cursor decodes to (hub epoch, seq)', () => {
    const h = hub();
    const published = range(1, 50).map((i) => h.publish(tx(i)));
    expect(seqs(published)).toEqual(range(1, 50));
    for (const item of published) {
      expect(decodeCursor(item.cursor)).toEqual({ epoch: h.epoch, seq: item.seq });
    }
    // The item is the event plus its place; the event's fields are untouched.
    expect(published[6]).toEqual({ ...tx(7), seq: 7, cursor: published[6]?.cursor });
    expect(h.latest()?.seq).toBe(50);
    expect(h.counters.published).toBe(50);
    expect(new Set(published.map((p) => p.cursor)).size).toBe(50);
  });

  test('two hubs have different epochs, so their cursors differ for the same seq', () => {
    const a = hub();
    const b = hub();
    expect(a.epoch).not.toBe(b.epoch);
    expect(a.publish(tx(1)).cursor).not.toBe(b.publish(tx(1)).cursor);
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

describe('attach', () => {
  test('with `after`, the backlog is exactly the retained events after the cursor, then live follows with no gap or duplicate', () => {
    const h = hub();
    const published = range(1, 10).map((i) => h.publish(tx(i)));
    const live: Item[] = [];
    const a = h.attach({ transport: 'legacy', after: published[3]?.cursor }, (item) => live.push(item));
    expect(a.gap).toBeNull();
    expect(seqs(a.backlog)).toEqual(range(5, 10));
    expect(live).toEqual([]);
    h.publish(tx(11));
    h.publish(tx(12));
    expect(seqs([...a.backlog, ...live])).toEqual(range(5, 12));
    a.detach();
  });

  test('a cursor at the latest event resumes with an empty backlog', () => {
    const h = hub();
    const last = range(1, 5).map((i) => h.publish(tx(i))).at(-1) as Item;
    const live: Item[] = [];
    const a = h.attach({ transport: 'sse', after: last.cursor }, (item) => live.push(item));
    expect(a).toMatchObject({ backlog: [], gap: null });
    h.publish(tx(6));
    expect(seqs(live)).toEqual([6]);
  });

  test('subscribers attaching between interleaved publishes each see a contiguous run from their cursor', () => {
    const h = hub({ bufferSize: 10_000 });
    const subscribers: { from: number; got: Item[] }[] = [];
    const cursors: string[] = [];
    // Publishes and attaches interleave: every third step attaches at a cursor a few events back.
    for (let i = 1; i <= 300; i++) {
      cursors.push(h.publish(tx(i)).cursor);
      if (i % 3 === 0) {
        const back = i % 7; // 0..6 events behind the head
        const from = i - back;
        const got: Item[] = [];
        const after = from === 0 ? encodeCursor({ epoch: h.epoch, seq: 0 }) : cursors[from - 1];
        const a = h.attach({ transport: 'graphql-ws', after }, (item) => got.push(item));
        expect(a.gap).toBeNull();
        got.push(...a.backlog);
        // Backlog must come first; nothing was delivered live during attach.
        expect(seqs(got)).toEqual(range(from + 1, i));
        subscribers.push({ from, got });
      }
    }
    for (const { from, got } of subscribers) expect(seqs(got)).toEqual(range(from + 1, 300));
  });

  test('`after` with a filter resumes only the matching events', () => {
    const h = hub();
    const published = range(1, 12).map((i) => h.publish(tx(i)));
    const a = h.attach({ transport: 'legacy', filter: failedOnly, after: published[1]?.cursor }, () => {});
    expect(seqs(a.backlog)).toEqual([3, 6, 9, 12]);
    expect(a.gap).toBeNull();
  });

  test('a cursor from another epoch (a restarted server) is a REPLAY_GAP with an empty backlog', () => {
    const old = hub();
    const foreign = old.publish(tx(1)).cursor;
    const h = hub();
    range(1, 5).forEach((i) => h.publish(tx(i)));
    const a = h.attach({ transport: 'graphql-ws', after: foreign }, () => {});
    expect(a.backlog).toEqual([]);
    expect(a.gap).toBeInstanceOf(RealtimeError);
    expect(a.gap?.code).toBe('REPLAY_GAP');
    expect(a.gap?.details.stream).toBe('transactions');
    // The client is told where this history starts.
    expect(decodeCursor(a.gap?.details.oldestCursor as string)).toEqual({ epoch: h.epoch, seq: 0 });
    // Still attached live despite the gap.
    expect(h.subscriberCount()).toBe(1);
  });

  test('an unreadable cursor is a REPLAY_GAP, not an exception', () => {
    const h = hub();
    h.publish(tx(1));
    const a = h.attach({ transport: 'sse', after: 'garbage' }, () => {});
    expect(a.gap?.code).toBe('REPLAY_GAP');
    expect(a.backlog).toEqual([]);
  });

  test('a cursor older than the ring (bufferSize) is a REPLAY_GAP that still replays what is retained', () => {
    const h = hub({ bufferSize: 5 });
    const published = range(1, 20).map((i) => h.publish(tx(i)));
    const cursorOf = (seq: number) => (published[seq - 1] as Item).cursor;
    expect(seqs(h.recent(100))).toEqual(range(16, 20));

    // 15 is the newest lost event; resuming after it loses nothing.
    const exact = h.attach({ transport: 'legacy', after: cursorOf(15) }, () => {});
    expect(exact.gap).toBeNull();
    expect(seqs(exact.backlog)).toEqual(range(16, 20));

    // After 14, event 15 is gone.
    const lost = h.attach({ transport: 'legacy', after: cursorOf(14) }, () => {});
    expect(lost.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(lost.backlog)).toEqual(range(16, 20));
    expect(decodeCursor(lost.gap?.details.oldestCursor as string)).toEqual({ epoch: h.epoch, seq: 15 });

    const older = h.attach({ transport: 'legacy', after: cursorOf(3), filter: failedOnly }, () => {});
    expect(older.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(older.backlog)).toEqual([18]);
  });

  test('a cursor older than the TTL is a REPLAY_GAP (injectable clock)', () => {
    let clock = 1_000_000;
    const h = hub({ bufferSize: 100, ttlMs: 1000, now: () => clock });
    const early = range(1, 5).map((i) => h.publish(tx(i)));
    clock += 600;
    const late = range(6, 8).map((i) => h.publish(tx(i)));
    const cursorOf = (seq: number) => ([...early, ...late][seq - 1] as Item).cursor;

    // At exactly the TTL the early events are still retained.
    clock += 400;
    expect(h.attach({ transport: 'sse', after: cursorOf(2) }, () => {})).toMatchObject({ gap: null });
    expect(seqs(h.recent(100))).toEqual(range(1, 8));

    // One ms later they have expired: 1..5 are gone.
    clock += 1;
    expect(seqs(h.recent(100))).toEqual(range(6, 8));
    const gap = h.attach({ transport: 'sse', after: cursorOf(2) }, () => {});
    expect(gap.gap?.code).toBe('REPLAY_GAP');
    expect(seqs(gap.backlog)).toEqual(range(6, 8));
    const ok = h.attach({ transport: 'sse', after: cursorOf(5) }, () => {});
    expect(ok.gap).toBeNull();
    expect(seqs(ok.backlog)).toEqual(range(6, 8));

    // Everything expired: the latest cursor is still a clean resume, an earlier one is not.
    clock += 10_000;
    expect(h.recent(100)).toEqual([]);
    expect(h.attach({ transport: 'sse', after: cursorOf(8) }, () => {})).toMatchObject({ backlog: [], gap: null });
    const stale = h.attach({ transport: 'sse', after: cursorOf(7) }, () => {});
    expect(stale.gap?.code).toBe('REPLAY_GAP');
    expect(stale.backlog).toEqual([]);
  });

  test('`replay: N` returns the last N retained matching events, oldest first', () => {
    const h = hub({ bufferSize: 10 });
    range(1, 30).forEach((i) => h.publish(tx(i)));
    expect(seqs(h.attach({ transport: 'legacy', replay: 3 }, () => {}).backlog)).toEqual([28, 29, 30]);
    expect(seqs(h.attach({ transport: 'legacy', replay: 3, filter: failedOnly }, () => {}).backlog)).toEqual([24, 27, 30]);
    // No more than is retained (the ring holds 21..30).
    expect(seqs(h.attach({ transport: 'legacy', replay: 100, filter: failedOnly }, () => {}).backlog)).toEqual([21, 24, 27, 30]);
    expect(h.attach({ transport: 'legacy', replay: 0 }, () => {}).backlog).toEqual([]);
    expect(h.attach({ transport: 'legacy' }, () => {}).backlog).toEqual([]);
  });

  test('filter groups: 1,000 subscribers over 10 distinct filters cost 10 evaluations per event, not 1,000', () => {
    const h = hub();
    let matchCalls = 0;
    const filterFor = (k: number): StreamFilter<'transactions'> => ({
      key: `gas%10=${k}`,
      matches: (e) => {
        matchCalls++;
        return e.gasUsed % 10 === k;
      },
    });
    const received = new Map<number, number[]>();
    const attachments = range(0, 999).map((i) => {
      const k = i % 10;
      // A fresh filter object per subscriber: grouping is by key, not identity.
      return h.attach({ transport: 'graphql-ws', filter: filterFor(k) }, (item) => {
        received.set(i, [...(received.get(i) ?? []), item.seq]);
      });
    });
    const unfiltered: Item[] = [];
    h.attach({ transport: 'sse' }, (item) => unfiltered.push(item));

    const before = h.counters.filterEvaluations;
    range(1, 20).forEach((i) => h.publish(tx(i)));
    expect(h.counters.filterEvaluations - before).toBe(20 * 10);
    expect(matchCalls).toBe(20 * 10);
    // Each subscriber got exactly its filter's events.
    for (let i = 0; i < 1000; i++) {
      expect(received.get(i) ?? []).toEqual(range(1, 20).filter((seq) => (21_000 + seq) % 10 === i % 10));
    }
    expect(seqs(unfiltered)).toEqual(range(1, 20));

    // Once a group empties it costs nothing.
    attachments.filter((_, i) => i % 10 === 3).forEach((a) => a.detach());
    const mid = h.counters.filterEvaluations;
    h.publish(tx(21));
    expect(h.counters.filterEvaluations - mid).toBe(9);
  });

  test('subscriberCount per transport; detach is idempotent; onSubscribersChanged fires per real change', () => {
    const changed = vi.fn();
    const h = hub({ onSubscribersChanged: changed });
    const plan: Transport[] = ['graphql-ws', 'graphql-ws', 'sse', 'sse', 'sse', 'legacy'];
    const attached = plan.map((transport) => h.attach({ transport }, () => {}));
    expect(h.subscriberCount('graphql-ws')).toBe(2);
    expect(h.subscriberCount('sse')).toBe(3);
    expect(h.subscriberCount('legacy')).toBe(1);
    expect(h.subscriberCount()).toBe(6);
    expect(changed).toHaveBeenCalledTimes(6);

    attached[2]?.detach();
    attached[2]?.detach();
    attached[2]?.detach();
    expect(h.subscriberCount('sse')).toBe(2);
    expect(h.subscriberCount()).toBe(5);
    expect(changed).toHaveBeenCalledTimes(7);

    for (const a of attached) a.detach();
    expect(h.subscriberCount()).toBe(0);
    // 6 attaches + 1 detach + the 5 still attached; repeated detaches changed nothing.
    expect(changed).toHaveBeenCalledTimes(12);
    // A detached subscriber receives nothing more.
    const late = vi.fn();
    h.attach({ transport: 'legacy' }, late).detach();
    h.publish(tx(1));
    expect(late).not.toHaveBeenCalled();
  });

  test('taps see every event and are not subscribers', () => {
    const h = hub();
    const seen: number[] = [];
    const untap = h.tap((item) => seen.push(item.seq));
    expect(h.subscriberCount()).toBe(0);
    h.publish(tx(1));
    h.publish(tx(2));
    untap();
    h.publish(tx(3));
    expect(seen).toEqual([1, 2]);
  });
});

describe('iterate', () => {
  test('delivers the backlog, then live events, counting each hand-over', async () => {
    const delivered: [number, Transport][] = [];
    const h = hub({ onDelivered: (item, transport) => delivered.push([item.seq, transport]) });
    range(1, 5).forEach((i) => h.publish(tx(i)));
    const it = h.iterate({ transport: 'sse', replay: 2 });
    expect(h.subscriberCount('sse')).toBe(1);
    h.publish(tx(6));
    expect((await it.next()).value?.seq).toBe(4);
    expect((await it.next()).value?.seq).toBe(5);
    expect((await it.next()).value?.seq).toBe(6);
    const pending = it.next();
    h.publish(tx(7));
    expect((await pending).value?.seq).toBe(7);
    expect(delivered).toEqual([
      [4, 'sse'],
      [5, 'sse'],
      [6, 'sse'],
      [7, 'sse'],
    ]);
    await it.return?.();
  });

  test('resume by cursor while publishes interleave with reads: no gap, no duplicate', async () => {
    const h = hub({ queueLimit: 1000 });
    const published = range(1, 10).map((i) => h.publish(tx(i)));
    const it = h.iterate({ transport: 'graphql-ws', after: published[2]?.cursor });
    const got: number[] = [];
    for (let i = 11; i <= 60; i++) {
      h.publish(tx(i));
      if (i % 2 === 0) got.push(((await it.next()).value as Item).seq);
    }
    while (got.length < 57) got.push(((await it.next()).value as Item).seq);
    expect(got).toEqual(range(4, 60));
    await it.return?.();
  });

  test('an unresumable cursor yields one REPLAY_GAP notice first, then what is retained, then live', async () => {
    const delivered: number[] = [];
    const h = hub({ bufferSize: 3, onDelivered: (item) => delivered.push(item.seq) });
    const published = range(1, 10).map((i) => h.publish(tx(i)));
    const it = h.iterate({ transport: 'graphql-ws', after: published[1]?.cursor });
    const first = (await it.next()).value;
    expect(isGapNotice(first)).toBe(true);
    const gap = (first as GapNotice).gap;
    expect(gap).toBeInstanceOf(RealtimeError);
    expect(gap.code).toBe('REPLAY_GAP');
    expect(decodeCursor(gap.details.oldestCursor as string)).toEqual({ epoch: h.epoch, seq: 7 });
    h.publish(tx(11));
    const rest: unknown[] = [];
    for (let i = 0; i < 4; i++) rest.push((await it.next()).value);
    expect(rest.some(isGapNotice)).toBe(false);
    expect(seqs(rest as Item[])).toEqual([8, 9, 10, 11]);
    // The notice is not an event: only events count as delivered.
    expect(delivered).toEqual([8, 9, 10, 11]);
    await it.return?.();

    const foreign = h.iterate({ transport: 'sse', after: hub().publish(tx(1)).cursor });
    const notice = (await foreign.next()).value;
    expect(isGapNotice(notice) && notice.gap.code).toBe('REPLAY_GAP');
    h.publish(tx(12));
    expect(((await foreign.next()).value as Item).seq).toBe(12);
    await foreign.return?.();
  });

  test('a clean resume yields no notice', async () => {
    const h = hub();
    const published = range(1, 3).map((i) => h.publish(tx(i)));
    const it = h.iterate({ transport: 'sse', after: published[0]?.cursor });
    expect(isGapNotice((await it.next()).value)).toBe(false);
    await it.return?.();
  });

  test("overflow 'conflate' keeps only the newest event", async () => {
    const h = hub({ queueLimit: 3, overflow: 'conflate' });
    const it = h.iterate({ transport: 'graphql-ws' });
    range(1, 4).forEach((i) => h.publish(tx(i)));
    expect((await it.next()).value?.seq).toBe(4);
    // And carries on live afterwards.
    h.publish(tx(5));
    expect((await it.next()).value?.seq).toBe(5);
    expect(h.subscriberCount()).toBe(1);
    await it.return?.();
  });

  test("overflow 'error' ends the iterator with SLOW_CONSUMER and releases the subscriber", async () => {
    const h = hub({ queueLimit: 3, overflow: 'error' });
    const it = h.iterate({ transport: 'graphql-ws' });
    range(1, 3).forEach((i) => h.publish(tx(i)));
    // At the limit, nothing is lost yet.
    h.publish(tx(4));
    const error = await expectRealtimeError(it.next(), 'SLOW_CONSUMER');
    expect(error.message).toMatch(/cursor/);
    expect(h.subscriberCount()).toBe(0);
  });

  test('the backlog does not count against the queue limit', async () => {
    const h = hub({ queueLimit: 2, overflow: 'error' });
    range(1, 10).forEach((i) => h.publish(tx(i)));
    const it = h.iterate({ transport: 'sse', replay: 10 });
    h.publish(tx(11));
    h.publish(tx(12));
    const got: number[] = [];
    for (let i = 0; i < 12; i++) got.push(((await it.next()).value as Item).seq);
    expect(got).toEqual(range(1, 12));
    await it.return?.();
  });

  test('return() releases the subscriber and settles a pending next', async () => {
    const h = hub();
    const it = h.iterate({ transport: 'legacy' });
    expect(h.subscriberCount('legacy')).toBe(1);
    const pending = it.next();
    await it.return?.();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(h.subscriberCount()).toBe(0);
    h.publish(tx(1));
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  test('endAll completes every iterator: queued events first, then done; subscribers are released', async () => {
    const h = hub();
    const busy = h.iterate({ transport: 'graphql-ws' });
    const idle = h.iterate({ transport: 'sse' });
    h.publish(tx(1));
    h.publish(tx(2));
    expect((await idle.next()).value?.seq).toBe(1);
    expect((await idle.next()).value?.seq).toBe(2);
    const idleNext = idle.next();
    h.endAll();
    expect(await idleNext).toEqual({ value: undefined, done: true });
    h.publish(tx(3));
    expect((await busy.next()).value?.seq).toBe(1);
    expect((await busy.next()).value?.seq).toBe(2);
    expect(await busy.next()).toEqual({ value: undefined, done: true });
    expect(h.subscriberCount()).toBe(0);
    // for-await over an ended iterator terminates.
    const after = h.iterate({ transport: 'sse' });
    h.endAll();
    const rest: unknown[] = [];
    for await (const item of after) rest.push(item);
    expect(rest).toEqual([]);
  });
});
