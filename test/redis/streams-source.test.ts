import { describe, expect, test } from 'vitest';
import type { ChildServer } from '../helpers/child-server.ts';
import { makeNetwork, makeTransaction, makeTransactions } from '../helpers/ingest-client.ts';
import { graphqlWsFeed, legacyMetaFeed, transactionSubscribers } from '../helpers/instance-feeds.ts';
import { redisStreamsSource, startRedisInstances, uniquePrefix } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { duplicates as repeated, seqBreaks } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * SOURCES=redis: a chain node that only knows `XADD <REDIS_STREAM_PREFIX>:<stream> * event '<json>'`
 * feeds the system. Instances read through the consumer group
 * `aurigraph-realtime`, validate, publish on the bus, and acknowledge — invalid
 * entries too, so nothing stays pending forever.
 */

const GROUP = 'aurigraph-realtime';

describeWithRedis('Redis Streams consumer source', () => {
  const redis = useRedisServer();

  /** Pending entries of the group on one chain stream (XPENDING summary). */
  async function pendingCount(key: string): Promise<number> {
    const client = redis.client();
    try {
      const [count] = (await client.xpending(key, GROUP)) as [number, ...unknown[]];
      return Number(count);
    } finally {
      client.disconnect();
    }
  }

  describe('one instance', () => {
    const { keyPrefix, streamPrefix, env } = redisStreamsSource(redis, 'src');
    const server = useTestServer(env);

    test('an XADD reaches subscribers; invalid entries are skipped and acknowledged while valid ones flow', async () => {
      const gql = await graphqlWsFeed(server, 'transactions');
      const legacy = await legacyMetaFeed(server, 'transactions');
      await transactionSubscribers(server, 2);
      const key = `${streamPrefix}:transactions`;
      const node = redis.client();
      const t = `${keyPrefix}-xadd`;
      const valid = makeTransactions(t, 0, 4);
      const badHash = { ...makeTransaction(t, 90), txHash: 'nope' };
      const { gasUsed: _g, ...missingGas } = makeTransaction(t, 91);
      const ids = [
        await node.xadd(key, '*', 'event', JSON.stringify(valid[0])),
        await node.xadd(key, '*', 'event', 'this is not JSON'),
        await node.xadd(key, '*', 'event', JSON.stringify(badHash)),
        await node.xadd(key, '*', 'event', JSON.stringify(valid[1])),
        await node.xadd(key, '*', 'payload', JSON.stringify(valid[2])), // wrong field name: no event
        await node.xadd(key, '*', 'event', JSON.stringify(missingGas)),
        await node.xadd(key, '*', 'event', JSON.stringify([valid[2]])), // an array is not an event
        await node.xadd(key, '*', 'event', JSON.stringify(valid[2])),
        await node.xadd(key, '*', 'event', JSON.stringify(valid[2])), // redelivered by the node: dropped as a duplicate
        await node.xadd(key, '*', 'event', JSON.stringify(valid[3])),
      ];
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      await waitFor(() => gql.events.length >= 4 && legacy.events.length >= 4, { timeoutMs: 20_000, what: 'the valid entries' });
      // Entries after the bad ones were handled, so the bad ones were passed over, not stuck; and they are acknowledged.
      await waitFor(async () => (await pendingCount(key)) === 0, { timeoutMs: 20_000, what: 'XPENDING to reach 0' });
      const [group] = (await node.xinfo('GROUPS', key)) as unknown[][];
      const info = Object.fromEntries(
        (group as unknown[]).reduce<[string, unknown][]>((acc, v, i, arr) => {
          if (i % 2 === 0) acc.push([String(v), arr[i + 1]]);
          return acc;
        }, []),
      );
      expect(info['name']).toBe(GROUP);
      expect(info['last-delivered-id'], 'every entry was delivered to the group').toBe(ids.at(-1));
      expect(info['pending']).toBe(0);

      // One more valid entry proves nothing else is on its way (the invalid ones are not delivered late).
      const sentinel = makeTransaction(t, 99);
      await node.xadd(key, '*', 'event', JSON.stringify(sentinel));
      await waitFor(() => gql.events.length >= 5 && legacy.events.length >= 5, { what: 'the sentinel' });
      const expected = [...valid, sentinel].map((e) => e.txHash);
      for (const feed of [gql, legacy]) {
        expect(feed.field('txHash'), feed.label).toEqual(expected);
        expect(seqBreaks(feed.seqs()), feed.label).toEqual([]);
        expect(feed.events[0], feed.label).toMatchObject(valid[0] as object);
      }
      expect(await node.xlen(`${keyPrefix}:events:transactions`), 'the bus holds only what was published').toBe(5);
      node.disconnect();
    });

    test('every chain stream is read: network entries reach /ws/network', async () => {
      const network = await legacyMetaFeed(server, 'network');
      await waitFor(() => server.app.engine.subscriberCount('network') === 1, { what: 'network subscriber' });
      const node = redis.client();
      const events = [makeNetwork(keyPrefix, 1), makeNetwork(keyPrefix, 2)];
      for (const e of events) await node.xadd(`${streamPrefix}:network`, '*', 'event', JSON.stringify(e));
      node.disconnect();
      await waitFor(() => network.events.length >= 2, { timeoutMs: 20_000, what: 'two network frames' });
      expect(network.events.map(({ seq: _s, cursor: _c, ...rest }) => rest)).toEqual(events);
    });
  });

  test('two instances with SOURCES=redis: each entry is published exactly once and reaches subscribers on both once', async () => {
    const keyPrefix = uniquePrefix('src-two');
    const streamPrefix = `${keyPrefix}:chain`;
    // A 1 ms dedup window: a second consumption of an entry would be published again, not hidden by dedup.
    const [a, b] = (await startRedisInstances(redis, keyPrefix, 2, {
      SOURCES: 'redis',
      REDIS_STREAM_PREFIX: streamPrefix,
      DEDUP_WINDOW_MS: '1',
    })) as [ChildServer, ChildServer];
    const onA = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws');
    const onB = await legacyMetaFeed(b, 'transactions', {}, 'B legacy');
    const onB2 = await graphqlWsFeed(b, 'transactions', {}, 'B graphql-ws');
    await transactionSubscribers(a, 1);
    await transactionSubscribers(b, 2);
    const node = redis.client();
    const key = `${streamPrefix}:transactions`;
    const t = `${keyPrefix}-entries`;
    const events = makeTransactions(t, 0, 60);
    // In rounds, so both consumers have a chance to take some.
    for (let round = 0; round < 6; round++) {
      const pipeline = node.pipeline();
      for (const e of events.slice(round * 10, round * 10 + 10)) pipeline.xadd(key, '*', 'event', JSON.stringify(e));
      await pipeline.exec();
      await waitFor(() => onA.events.length >= round * 10 + 10, { timeoutMs: 20_000, what: `round ${round} on A` });
    }
    await waitFor(() => [onA, onB, onB2].every((f) => f.events.length >= 60), { timeoutMs: 20_000, what: '60 events everywhere' });
    await waitFor(async () => (await pendingCount(key)) === 0, { timeoutMs: 20_000, what: 'every entry acknowledged' });
    // Published exactly once: the bus numbered 60 events and holds 60.
    expect(Number(await node.get(`${keyPrefix}:seq:transactions`)), 'events the bus numbered').toBe(60);
    expect(await node.xlen(`${keyPrefix}:events:transactions`)).toBe(60);
    const consumers = (await node.xinfo('CONSUMERS', key, 'aurigraph-realtime')) as unknown[][];
    expect(consumers, 'one consumer per instance').toHaveLength(2);
    node.disconnect();

    const expected = new Set(events.map((e) => e.txHash));
    for (const feed of [onA, onB, onB2]) {
      expect(feed.events, feed.label).toHaveLength(60);
      expect(repeated(feed.field('txHash')), feed.label).toEqual([]);
      expect(new Set(feed.field('txHash')), feed.label).toEqual(expected);
      expect(seqBreaks(feed.seqs()), feed.label).toEqual([]);
      expect(feed.field('txHash'), `${feed.label}: the same order as on A`).toEqual(onA.field('txHash'));
    }
  });
});
