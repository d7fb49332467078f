import { expect, test } from 'vitest';
import WebSocket from 'ws';
import { createResumableClient, type ReplayGap } from 'aurigraph-realtime/client';
import { graphqlWsClient } from '../helpers/clients.ts';
import type { TransactionEvent } from '../helpers/contract.ts';
import { makeTransactions, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { getReady } from '../helpers/instance-feeds.ts';
import { redisStreamsSource, uniquePrefix } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { clientFeed, legacyFeed, rawSseFeed, type Feed, type FeedError, type Item } from '../helpers/stream-feeds.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Redis loses or rewinds events it acknowledged — restored from an older
 * snapshot, flushed, restarted empty, a counter key deleted — while two
 * instances serve subscribers on every transport. What must hold: the stream
 * goes on in a NEW history that every subscriber is told about (one
 * REPLAY_GAP, reason "history-reset", numbering from 1 again), every event
 * answered 200 after the loss reaches every subscriber, and a client resuming
 * with a cursor from the lost history gets the gap and the whole new history
 * — on graphql-ws, SSE, legacy /ws and the client kit alike.
 */

interface Regression {
  name: string;
  /** Run between the first and the second batch (e.g. the snapshot Redis will come back to). */
  between?(redis: RedisServer): Promise<void>;
  /** Makes Redis lose what it acknowledged. */
  regress(redis: RedisServer, prefix: string): Promise<void>;
}

const REGRESSIONS: Regression[] = [
  {
    name: 'restored from an older snapshot (SAVE, more events, kill -9, restart from the dump)',
    async between(redis) {
      expect(await redis.client().save()).toBe('OK');
    },
    async regress(redis) {
      await redis.kill('SIGKILL');
      await redis.restart();
      // Its counter and stream are back at the snapshot: 5 events, where the instances have seen 10.
      expect(redis.output(), 'redis-server loaded the snapshot').toMatch(/DB loaded from disk/);
    },
  },
  {
    name: 'FLUSHALL while running',
    async regress(redis) {
      expect(await redis.client().flushall()).toBe('OK');
    },
  },
  {
    name: 'restarted empty (no persistence)',
    async regress(redis) {
      await redis.kill('SIGKILL');
      await redis.restart();
      expect(redis.output(), 'nothing to load: an empty Redis').not.toMatch(/DB loaded from disk/);
    },
  },
  {
    name: 'its sequence counter deleted (a key deleted or expired)',
    async regress(redis, prefix) {
      expect(await redis.client().del(`${prefix}:seq:transactions`)).toBe(1);
    },
  },
];

const SELECTION = 'seq cursor txHash';

/** The kit's record of one subscription: results in order (events and gap markers), gaps, drops. */
interface KitFeed {
  readonly label: string;
  readonly entries: ({ event: Item } | { gap: ReplayGap })[];
  readonly events: Item[];
  readonly gaps: ReplayGap[];
  readonly errors: unknown[];
  duplicatesDropped(): number;
}

function kitFeed(server: TestServer, label: string, after?: string): KitFeed {
  const entries: KitFeed['entries'] = [];
  const errors: unknown[] = [];
  const gaps: ReplayGap[] = [];
  const kit = createResumableClient({
    url: server.ws('/graphql'),
    webSocketImpl: WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
    onGap: (gap) => {
      gaps.push(gap);
      entries.push({ gap });
    },
  });
  const subscription = kit.resumable<{ transactions: Item }>(
    { query: `subscription { transactions { ${SELECTION} } }` },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data?.transactions) entries.push({ event: result.data.transactions });
      },
      error: (error) => errors.push(error),
      complete: () => {},
    },
    after === undefined ? {} : { after },
  );
  track(kit, () => kit.dispose());
  return {
    label,
    entries,
    get events() {
      return entries.flatMap((e) => ('event' in e ? [e.event] : []));
    },
    gaps,
    errors,
    duplicatesDropped: () => subscription.duplicatesDropped,
  };
}

/** Events and gap notices of any feed, in arrival order, as one list: `gap:<reason>` or the event's txHash. */
function timeline(feed: Feed | KitFeed): string[] {
  if ('gaps' in feed)
    return feed.entries.map((e) => ('gap' in e ? `gap:${String(e.gap.error.extensions?.['reason'])}` : String(e.event['txHash'])));
  return feed.entries.map((e) =>
    'error' in e ? `${String(e.error.extensions['code'])}:${String(e.error.extensions['reason'])}` : String(e.event['txHash']),
  );
}

const gapOf = (feed: Feed | KitFeed): FeedError | ReplayGap['error'] | undefined => ('gaps' in feed ? feed.gaps[0]?.error : feed.errors[0]);

async function ingest(server: TestServer, events: TransactionEvent[]): Promise<void> {
  const response = await postIngest(server, 'transactions', events);
  expect(response.status, response.text).toBe(200);
  expect(response.json).toEqual({ accepted: events.length, duplicates: 0 });
}

for (const regression of REGRESSIONS) {
  describeWithRedis(`Redis ${regression.name}`, () => {
    const prefix = uniquePrefix('regression');
    const redis = useRedisServer();
    const env = () => ({
      BUS: 'redis',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      SOURCES: 'ingest',
      INGEST_TOKEN: TEST_INGEST_TOKEN,
    });
    const a = useTestServer(env);
    const b = useTestServer(env);

    test(
      'every subscriber is told (REPLAY_GAP history-reset), gets every event answered 200 after it, and resumers get the new history',
      { timeout: 90_000 },
      async () => {
        const tag = `${prefix}-tx`;
        const [first, second, third] = [makeTransactions(tag, 0, 5), makeTransactions(tag, 5, 5), makeTransactions(tag, 10, 5)] as [
          TransactionEvent[],
          TransactionEvent[],
          TransactionEvent[],
        ];
        const live: (Feed | KitFeed)[] = [
          clientFeed(graphqlWsClient(a), 'transactions', {}, 'graphql-ws on A'),
          await legacyFeed(a, '/ws/transactions?meta=1', 'legacy on A'),
          rawSseFeed(b, 'transactions', {}, { label: 'SSE on B' }),
          kitFeed(b, 'kit on B'),
        ];
        await waitFor(() => a.app.engine.subscriberCount('transactions') === 2 && b.app.engine.subscriberCount('transactions') === 2, {
          what: 'two transactions subscribers on each instance',
        });

        await ingest(a, first);
        await waitFor(() => live.every((f) => f.events.length === 5), { what: 'the first 5 everywhere' });
        await regression.between?.(redis);
        await ingest(b, second);
        await waitFor(() => live.every((f) => f.events.length === 10), { what: 'the next 5 everywhere' });
        const lostHistoryCursor = live[0]?.events[9]?.cursor as string;

        await regression.regress(redis, prefix);
        for (const server of [a, b]) {
          await waitFor(async () => (await getReady(server)).status === 200, {
            timeoutMs: 30_000,
            what: '/ready 200 after the regression',
          });
        }
        // Answered 200 after Redis lost events: these must reach everyone.
        await ingest(a, third);

        const expected = [...first, ...second].map((e) => e.txHash);
        const after = third.map((e) => e.txHash);
        await waitFor(() => live.every((f) => f.events.length >= 15), {
          timeoutMs: 20_000,
          what: 'the 5 events accepted after the regression on every subscriber',
        }).catch(() => {}); // the assertions below say what is missing
        for (const feed of live) {
          expect(timeline(feed), `${feed.label}: every event once, in order, the reset announced where it happened`).toEqual([
            ...expected,
            feed === live[3] ? 'gap:history-reset' : 'REPLAY_GAP:history-reset',
            ...after,
          ]);
          const seqs = feed.events.map((e) => e.seq);
          expect(seqs, `${feed.label}: numbering starts again in the new history`).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5]);
          const oldestCursor = gapOf(feed)?.extensions?.['oldestCursor'];
          expect(oldestCursor, `${feed.label}: the notice points at the new history's start`).toEqual(expect.any(String));
          expect(oldestCursor).not.toBe(lostHistoryCursor);
        }
        const [gql, , sse, kit] = live as [Feed, Feed, Feed & ReturnType<typeof rawSseFeed>, KitFeed];
        expect(kit.duplicatesDropped(), 'the kit drops nothing it has not delivered').toBe(0);
        expect(kit.errors).toEqual([]);
        // The SSE notice carries the new history's start as its id: a reconnect right after it loses nothing.
        const notice = sse.messages.find((m) => m.data.includes('REPLAY_GAP'));
        expect(notice?.id).toBe(gapOf(sse)?.extensions?.['oldestCursor']);
        expect(gql.ended).toBe(false);

        // Clients coming back with a cursor from the lost history, on the other instance each: told, then the new history.
        const resumers: (Feed | KitFeed)[] = [
          clientFeed(graphqlWsClient(b), 'transactions', { after: lostHistoryCursor }, 'graphql-ws resuming on B'),
          await legacyFeed(b, `/ws/transactions?meta=1&since=${encodeURIComponent(lostHistoryCursor)}`, 'legacy resuming on B'),
          rawSseFeed(a, 'transactions', {}, { lastEventId: lostHistoryCursor, label: 'SSE resuming on A' }),
          kitFeed(a, 'kit resuming on A', lostHistoryCursor),
        ];
        await waitFor(() => resumers.every((f) => f.events.length >= 5), { what: 'the new history on every resumer' }).catch(() => {});
        for (const feed of resumers) {
          expect(timeline(feed), `${feed.label}: the gap, then the whole new history`).toEqual([
            feed === resumers[3] ? 'gap:history-reset' : 'REPLAY_GAP:history-reset',
            ...after,
          ]);
        }
      },
    );
  });
}

/**
 * SOURCES=redis after FLUSHALL: the consumer groups are gone with everything
 * else, and a chain node goes on XADDing. The source must create them again and
 * read what the node appended since (all of it came after the loss), so those
 * events reach the subscribers — after the notice of the new history.
 */
describeWithRedis('Redis Streams source: Redis flushed under it', () => {
  const redis = useRedisServer();
  const { keyPrefix, streamPrefix, env } = redisStreamsSource(redis, 'regression-src');
  const server = useTestServer(env);

  test('the consumer groups come back and what the node appends after the flush is delivered', { timeout: 60_000 }, async () => {
    const feed = clientFeed(graphqlWsClient(server), 'transactions', {}, 'graphql-ws');
    await waitFor(() => server.app.engine.subscriberCount('transactions') === 1, { what: 'the subscriber' });
    const node = redis.client();
    const key = `${streamPrefix}:transactions`;
    const [before, after] = [makeTransactions(`${keyPrefix}-a`, 0, 3), makeTransactions(`${keyPrefix}-b`, 0, 3)] as [
      TransactionEvent[],
      TransactionEvent[],
    ];
    for (const event of before) await node.xadd(key, '*', 'event', JSON.stringify(event));
    await waitFor(() => feed.events.length === 3, { what: 'the first entries' });

    expect(await node.flushall()).toBe('OK');
    for (const event of after) await node.xadd(key, '*', 'event', JSON.stringify(event));
    await waitFor(() => feed.events.length >= 6, { timeoutMs: 20_000, what: 'the entries appended after the flush' }).catch(() => {});
    expect(timeline(feed)).toEqual([...before.map((e) => e.txHash), 'REPLAY_GAP:history-reset', ...after.map((e) => e.txHash)]);
  });
});
