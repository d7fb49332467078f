import { describe, expect, test } from 'vitest';
import type { ApolloClient } from '@apollo/client';
import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import {
  LiveMetricsDocument,
  LiveTransactionsDocument,
  PeerChurnDocument,
  ValidatorChangesDocument,
} from '../../examples/generated/graphql.ts';
import { apolloClient, graphqlSseClient, graphqlWsClient, subscribe, urqlClient } from '../helpers/clients.ts';
import { useTestServer } from '../helpers/server.ts';
import { take, takeEmitted, waitFor } from '../helpers/wait.ts';

const server = useTestServer({ METRICS_INTERVAL_MS: '100' });

const keysOf = (value: unknown): string[] => Object.keys((value ?? {}) as object).sort();

// The fields the example documents (examples/*.graphql) select.
const LIVE_METRICS_KEYS = ['errorRate', 'timestamp', 'tps'];
const LIVE_TRANSACTIONS_KEYS = ['cursor', 'seq', 'status', 'timestamp', 'txHash', 'value'];

/** LiveMetrics (3 results) and LiveTransactions (5) on one client: each result has exactly the selected fields. */
async function expectLiveSelections(client: WsClient | SseClient): Promise<void> {
  const [metrics, transactions] = await Promise.all([
    take(subscribe(client, LiveMetricsDocument), 3),
    take(subscribe(client, LiveTransactionsDocument), 5),
  ]);
  expect(metrics).toHaveLength(3);
  expect(transactions).toHaveLength(5);
  for (const result of metrics) {
    expect(result.errors).toBeUndefined();
    expect(keysOf(result.data)).toEqual(['metrics']);
    expect(keysOf(result.data?.metrics)).toEqual(LIVE_METRICS_KEYS);
  }
  for (const result of transactions) {
    expect(result.errors).toBeUndefined();
    expect(keysOf(result.data)).toEqual(['transactions']);
    expect(keysOf(result.data?.transactions)).toEqual(LIVE_TRANSACTIONS_KEYS);
  }
}

describe('partial selections reach every client with exactly the selected fields', () => {
  test('graphql-ws client', () => expectLiveSelections(graphqlWsClient(server)));

  test('Apollo Client 4 (GraphQLWsLink + InMemoryCache): selected fields plus the __typename Apollo adds', async () => {
    const apollo = apolloClient(server);
    const collectApollo = <T>(client: ApolloClient, query: Parameters<ApolloClient['subscribe']>[0]['query'], count: number) =>
      takeEmitted<{ data: T | undefined; error?: unknown }>(
        (next, fail) =>
          client
            .subscribe({ query })
            .subscribe({ next: (result) => next(result as { data: T | undefined; error?: unknown }), error: fail }),
        count,
      );

    const [metrics, validators] = await Promise.all([
      collectApollo<{ metrics: Record<string, unknown> }>(apollo.client, LiveMetricsDocument, 3),
      collectApollo<{ validators: Record<string, unknown> }>(apollo.client, ValidatorChangesDocument, 2),
    ]);
    for (const result of metrics) {
      expect(result.error).toBeUndefined();
      // Apollo's document transform adds __typename to every selection set below the root, not to the root.
      expect(keysOf(result.data)).toEqual(['metrics']);
      expect(keysOf(result.data?.metrics)).toEqual(['__typename', ...LIVE_METRICS_KEYS].sort());
      expect(result.data?.metrics.__typename).toBe('MetricsSnapshot');
    }
    for (const result of validators) {
      expect(result.error).toBeUndefined();
      expect(keysOf(result.data?.validators)).toEqual(['__typename', 'status', 'timestamp', 'uptime', 'validator']);
      expect(result.data?.validators.__typename).toBe('ValidatorEvent');
    }
  });

  test('urql (@urql/core, subscriptionExchange → graphql-ws)', async () => {
    const urql = urqlClient(server);
    const results = await takeEmitted<{ data?: unknown; error?: unknown }>(
      (next) => urql.client.subscription(LiveMetricsDocument, {}).subscribe(next),
      3,
    );
    for (const result of results) {
      expect(result.error).toBeUndefined();
      expect(keysOf(result.data)).toEqual(['metrics']);
      // No cacheExchange, so urql adds no __typename: exactly the selection.
      expect(keysOf((result.data as { metrics: unknown }).metrics)).toEqual(LIVE_METRICS_KEYS);
    }
    // Unsubscribing through urql must reach the server.
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'urql unsubscribe to reach the server' });
  });
});

describe('SSE (graphql-sse client)', () => {
  test('distinct connections mode on /graphql receives events with exactly the selected fields', async () => {
    const client = graphqlSseClient(server);
    const [metrics, peers] = await Promise.all([
      take(subscribe(client, LiveMetricsDocument), 3),
      take(subscribe(client, PeerChurnDocument), 1, 25_000),
    ]);
    expect(metrics).toHaveLength(3);
    for (const result of metrics) {
      expect(result.errors).toBeUndefined();
      expect(keysOf(result.data?.metrics)).toEqual(LIVE_METRICS_KEYS);
    }
    expect(peers).toHaveLength(1);
    expect(keysOf(peers[0]?.data?.network)).toEqual(['connected', 'latency', 'peerId', 'timestamp']);
  });

  test('single connection mode on /graphql/stream receives events with exactly the selected fields', () =>
    expectLiveSelections(graphqlSseClient(server, { singleConnection: true })));

  test('SSE subscribers are counted under the sse transport while they stream', async () => {
    const distinct = graphqlSseClient(server);
    const single = graphqlSseClient(server, { singleConnection: true });
    const a = subscribe(distinct, LiveTransactionsDocument);
    const b = subscribe(single, LiveTransactionsDocument);
    // Pull one event from each so both are known to be live on the server.
    await Promise.all([a.next(), b.next()]);
    expect(server.app.engine.subscriberCount(undefined, 'sse')).toBe(2);
    expect(server.app.engine.subscriberCount('transactions', 'sse')).toBe(2);
    await Promise.all([a.return?.(), b.return?.()]);
    distinct.dispose();
    single.dispose();
    await waitFor(() => server.app.engine.subscriberCount(undefined, 'sse') === 0, { what: 'SSE subscribers to be released' });
  });
});
