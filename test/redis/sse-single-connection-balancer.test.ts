import { beforeEach, expect, test } from 'vitest';
import type { ChildServer } from '../helpers/child-server.ts';
import { graphqlSseClient } from '../helpers/clients.ts';
import { makeTransactions, postIngest } from '../helpers/ingest-client.ts';
import { noSubscribers } from '../helpers/instance-feeds.ts';
import { getStats } from '../helpers/ops.ts';
import { uniquePrefix, useRedisInstances } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.ts';
import { clientFeed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * graphql-sse's single-connection mode (PUT reserves a stream, GET opens it,
 * POSTs carry operations, DELETE stops one) behind a round-robin balancer:
 * two server processes on one Redis (BUS=redis), every request to the next
 * instance in turn, no sticky routing. The reservation, the stream and the
 * operations meet anyway: the instance holding the GET owns the stream, and
 * an operation POSTed to the other one is carried to it over Redis.
 */

// Instances of one process, and of two workers each (the directory then spans four processes).
for (const workers of ['1', '2'])
  describeWithRedis(`single-connection SSE behind a round-robin balancer (WORKERS=${workers} each)`, () => {
    const prefix = uniquePrefix(`sse-single-w${workers}`);
    const redis = useRedisServer();
    const [a, b] = useRedisInstances(redis, prefix, 2, { METRICS_INTERVAL_MS: '100', WORKERS: workers }) as [ChildServer, ChildServer];
    let proxy: RoundRobinProxy;
    beforeEach(async () => {
      await Promise.all([a, b].map((server) => noSubscribers(server)));
      proxy = await startRoundRobinProxy([a, b]);
    });

    const subscribersOn = async (server: ChildServer): Promise<number> => {
      const total = (await getStats(server)).totalConnections;
      if (total === undefined) throw new Error('the stats document has no totalConnections');
      return total;
    };

    test('the graphql-sse client (singleConnection: true) gets every operation, whichever instance each request reached', async () => {
      const client = graphqlSseClient(proxy, { singleConnection: true });
      // Three operations: their POSTs alternate between the instances, so some must travel to the stream's owner.
      const metrics = clientFeed(client, 'metrics', {}, 'metrics');
      const transactions = clientFeed(client, 'transactions', {}, 'transactions');
      const failed = clientFeed(client, 'transactions', { filter: { status: ['FAILED'] } }, 'FAILED transactions');
      await waitFor(async () => (await subscribersOn(a)) + (await subscribersOn(b)) === 3, { what: 'three subscribers in the fleet' });

      const sent = makeTransactions(`${prefix}-single`, 0, 12).map((tx, i) => ({
        ...tx,
        status: i % 3 === 0 ? ('FAILED' as const) : tx.status,
      }));
      expect((await postIngest(a, 'transactions', sent.slice(0, 6))).status).toBe(200);
      expect((await postIngest(b, 'transactions', sent.slice(6))).status).toBe(200);
      await waitFor(() => transactions.events.length >= 12 && failed.events.length >= 4 && metrics.events.length >= 3, {
        what: 'every operation to deliver',
      });
      expect(transactions.events.map((e) => e['txHash'])).toEqual(sent.map((tx) => tx.txHash));
      expect(failed.events.map((e) => e['txHash'])).toEqual(sent.filter((tx) => tx.status === 'FAILED').map((tx) => tx.txHash));
      for (const feed of [metrics, transactions, failed]) expect(feed.errors, feed.label).toEqual([]);

      // The stream lives on the instance that got the GET; the balancer really did spread the requests.
      const get = proxy.routed.find((r) => r.method === 'GET' && r.path.startsWith('/graphql/stream'));
      const posts = proxy.routed.filter((r) => r.method === 'POST' && r.path.startsWith('/graphql/stream'));
      expect(proxy.routed.find((r) => r.method === 'PUT')?.backend).toBeDefined();
      expect(posts.length).toBe(3);
      expect(
        posts.some((post) => post.backend !== get?.backend),
        'some operation was POSTed to the other instance',
      ).toBe(true);
      const owner = get?.backend === 0 ? a : b;
      const other = get?.backend === 0 ? b : a;
      expect(await subscribersOn(owner)).toBe(3);
      expect(await subscribersOn(other)).toBe(0);

      // Completing operations (DELETE, also round-robin) releases them on the owner.
      transactions.stop();
      failed.stop();
      await waitFor(async () => (await subscribersOn(owner)) === 1, { what: 'the two stops to reach the owner' });
      const before = metrics.events.length;
      await waitFor(() => metrics.events.length > before + 2, { what: 'metrics to keep flowing' });
    });

    test('a POST with a stream token nobody reserved is 404 on either instance, and costs nobody else anything', async () => {
      const client = graphqlSseClient(proxy, { singleConnection: true });
      const metrics = clientFeed(client, 'metrics', {}, 'metrics');
      await waitFor(() => metrics.events.length >= 1, { what: 'a metrics snapshot' });
      for (const server of [a, b]) {
        const response = await fetch(server.http('/graphql/stream'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': 'no-such-token' },
          body: JSON.stringify({ query: 'subscription { metrics { seq } }', extensions: { operationId: 'x' } }),
        });
        expect(response.status).toBe(404);
      }
      const count = metrics.events.length;
      await waitFor(() => metrics.events.length > count + 2, { what: 'metrics to keep flowing' });
      expect(metrics.errors).toEqual([]);
    });
  });
