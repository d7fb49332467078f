import { describe, expect, test } from 'vitest';
import type { ChildServer } from '../helpers/child-server.ts';
import { makeTransaction, makeTransactions, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { graphqlWsFeed, legacyMetaFeed, transactionSubscribers } from '../helpers/instance-feeds.ts';
import { uniquePrefix, useRedisInstances } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { seqBreaks } from '../helpers/sequences.ts';
import { startTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Configuration with BUS=redis: `metrics` stays per instance (its numbers
 * describe the instance it comes from, its sequence is the instance's own),
 * while chain-wide TPS and error rate come from the shared transactions.
 */

describeWithRedis('BUS=redis configuration', () => {
  const redis = useRedisServer();

  describe('metrics per instance', () => {
    const prefix = uniquePrefix('metrics');
    const [a, b] = useRedisInstances(redis, prefix, 2, { METRICS_INTERVAL_MS: '100' }) as [ChildServer, ChildServer];

    test('a metrics subscription works on A and on B, each with its own sequence and its own connections', async () => {
      const metricsA = await graphqlWsFeed(a, 'metrics', {}, 'A metrics');
      await legacyMetaFeed(a, 'transactions', {}, 'A legacy 1');
      await legacyMetaFeed(a, 'transactions', {}, 'A legacy 2');
      const metricsB = await graphqlWsFeed(b, 'metrics', {}, 'B metrics');
      await transactionSubscribers(a, 2);
      // Once A's snapshots count its three subscribers, take the next ten from each instance.
      const settledA = await waitFor(() => metricsA.events.findIndex((e) => e.connections === 3) + 1 || undefined, {
        timeoutMs: 20_000,
        what: 'a metrics snapshot on A counting its 3 subscribers',
      });
      const settledB = metricsB.events.length;
      await waitFor(() => metricsA.events.length >= settledA + 10 && metricsB.events.length >= settledB + 10, {
        timeoutMs: 20_000,
        what: '10 more snapshots on each instance',
      });
      const windowA = metricsA.events.slice(settledA);
      const windowB = metricsB.events.slice(settledB);
      expect(
        windowA.map((e) => e.connections),
        'A counts its own subscribers only',
      ).toEqual(windowA.map(() => 3));
      expect(
        windowB.map((e) => e.connections),
        'B counts its own subscriber only',
      ).toEqual(windowB.map(() => 1));
      // Each instance numbers its own snapshots; nothing from the other instance is interleaved (a shared metrics
      // stream would put A's snapshots, counting 3, among B's, counting 1: the connection counts above rule that out).
      expect(seqBreaks(metricsA.seqs()), 'A metrics seq').toEqual([]);
      expect(seqBreaks(metricsB.seqs()), 'B metrics seq').toEqual([]);
      // Nothing of metrics goes through Redis.
      const client = redis.client();
      expect(await client.exists(`${prefix}:events:metrics`, `${prefix}:seq:metrics`)).toBe(0);
      client.disconnect();
    });

    test("a metrics cursor from A is not a position in B's metrics: resuming with it on B reports REPLAY_GAP", async () => {
      const metricsA = await graphqlWsFeed(a, 'metrics', {}, 'A metrics');
      await waitFor(() => metricsA.events.length >= 3, { what: '3 snapshots on A' });
      const resumed = await graphqlWsFeed(b, 'metrics', { after: metricsA.lastCursor() as string }, 'B metrics resumed');
      await waitFor(() => resumed.errors.length > 0 && resumed.events.length > 0, {
        timeoutMs: 20_000,
        what: 'a gap notice then snapshots',
      });
      expect((resumed.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('REPLAY_GAP');
    });

    test('chain-wide TPS and error rate come from the shared transactions: ingest on A shows in B’s metrics', async () => {
      const metricsB = await graphqlWsFeed(b, 'metrics', {}, 'B metrics');
      await waitFor(() => metricsB.events.length >= 2, { what: 'snapshots on B' });
      const from = metricsB.events.length;
      const t = `${prefix}-tps`;
      const finished = [
        ...makeTransactions(t, 0, 15),
        ...Array.from({ length: 5 }, (_, i) => makeTransaction(t, 100 + i, { status: 'FAILED' })),
      ];
      expect((await postIngest(a, 'transactions', finished)).json).toEqual({ accepted: 20, duplicates: 0 });
      // Each snapshot covers the time since the previous one: tps × that time is how many finished in it.
      const counted = () => {
        let finishedSeen = 0;
        let failedSeen = 0;
        for (let i = from; i < metricsB.events.length; i++) {
          const e = metricsB.events[i] as Record<string, unknown>;
          const previous = metricsB.events[i - 1] as Record<string, unknown>;
          const seconds = (Date.parse(String(e['timestamp'])) - Date.parse(String(previous['timestamp']))) / 1000;
          const finishedHere = Number(e['tps']) * seconds;
          finishedSeen += finishedHere;
          failedSeen += Number(e['errorRate']) * finishedHere;
        }
        return { finishedSeen, failedSeen };
      };
      await waitFor(() => counted().finishedSeen >= 19, {
        timeoutMs: 20_000,
        what: "B's metrics to account for the 20 transactions ingested on A",
      });
      const { finishedSeen, failedSeen } = counted();
      expect(finishedSeen, 'finished transactions in B’s TPS').toBeLessThan(21.5);
      expect(failedSeen, 'failed transactions in B’s error rate').toBeGreaterThan(4);
      expect(failedSeen).toBeLessThan(6);
    });
  });

  test('DEDUP_WINDOW_MS=0 means the same with BUS=redis as with BUS=memory: ingest works and nothing is remembered', async () => {
    const outcomes: Record<string, unknown[]> = {};
    for (const bus of ['memory', 'redis'] as const) {
      const server = await startTestServer({
        BUS: bus,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: uniquePrefix('dedup0'),
        SOURCES: 'ingest',
        INGEST_TOKEN: TEST_INGEST_TOKEN,
        DEDUP_WINDOW_MS: '0',
      });
      const event = makeTransaction(`dedup0-${bus}`, 1);
      const first = await postIngest(server, 'transactions', event);
      const second = await postIngest(server, 'transactions', event);
      outcomes[bus] = [first.status, first.json, second.status, second.json];
      await server.stop();
    }
    expect(outcomes['memory']).toEqual([200, { accepted: 1, duplicates: 0 }, 200, { accepted: 1, duplicates: 0 }]);
    expect(outcomes['redis'], 'BUS=redis with DEDUP_WINDOW_MS=0').toEqual(outcomes['memory']);
  });
});
