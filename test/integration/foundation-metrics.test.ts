import { describe, expect, test } from 'vitest';
import {
  ConsensusRoundsDocument,
  FullMetricsDocument,
  LiveMetricsDocument,
  LiveTransactionsDocument,
  ValidatorChangesDocument,
} from '../../examples/generated/graphql.ts';
import { apolloClient, graphqlSseClient, graphqlWsClient, subscribe, urqlClient } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { useTestServer } from '../helpers/server.ts';
import { take, waitFor } from '../helpers/wait.ts';

describe('metrics at the default 1 s interval', () => {
  // No METRICS_INTERVAL_MS override: the contract's default of 1 s.
  const server = useTestServer();

  test('the server config carries the contract default', () => {
    expect(server.config.metricsIntervalMs).toBe(1000);
  });

  test('consecutive snapshots are consecutive ticks: seq + 1 each, timestamps strictly later', async () => {
    // How often the ticker fires is pinned with fake timers in test/unit/metrics-ticker.test.ts (nothing at 999 ms,
    // one snapshot at 1000 ms); a real clock on a loaded machine can only say that each tick came after the last.
    const client = graphqlWsClient(server);
    const results = await take(subscribe(client, FullMetricsDocument), 3, 15_000);
    expect(results).toHaveLength(3);
    const events = results.map((r) => {
      expect(r.errors).toBeUndefined();
      return r.data?.metrics;
    });
    const times = events.map((e) => Date.parse(e?.timestamp ?? ''));
    const seqs = events.map((e) => e?.seq ?? Number.NaN);
    // Consecutive snapshots, none skipped or duplicated.
    expect(seqs[1]).toBe((seqs[0] as number) + 1);
    expect(seqs[2]).toBe((seqs[1] as number) + 1);
    expect(times[1]).toBeGreaterThan(times[0] as number);
    expect(times[2]).toBeGreaterThan(times[1] as number);
  });
});

describe('metrics.connections counts live subscribers over all transports', () => {
  const server = useTestServer({ METRICS_INTERVAL_MS: '100' });

  test('opening N subscriptions on various transports raises it by N; closing them brings it back', async () => {
    const observer = collect(graphqlWsClient(server), FullMetricsDocument);
    const latestConnections = () => observer.results.at(-1)?.data?.metrics.connections;
    // The observer is itself a live subscriber: the quiet baseline is exactly 1.
    await waitFor(() => latestConnections() === 1, { what: 'a snapshot counting only the observer' });

    const ws = graphqlWsClient(server);
    const sseDistinct = graphqlSseClient(server);
    const sseSingle = graphqlSseClient(server, { singleConnection: true });
    const apollo = apolloClient(server);
    const urql = urqlClient(server);
    const extras = [
      collect(ws, LiveTransactionsDocument),
      collect(ws, ConsensusRoundsDocument),
      collect(sseDistinct, LiveMetricsDocument),
      collect(sseDistinct, LiveTransactionsDocument),
      collect(sseSingle, ValidatorChangesDocument),
      collect(sseSingle, LiveMetricsDocument),
    ];
    let apolloResults = 0;
    const apolloSubscription = apollo.client.subscribe({ query: LiveTransactionsDocument }).subscribe({
      next: () => apolloResults++,
    });
    let urqlResults = 0;
    const urqlSubscription = urql.client.subscription(LiveMetricsDocument, {}).subscribe(() => urqlResults++);
    const extraCount = extras.length + 2;

    // Every extra subscription is demonstrably live (it has received an event).
    await waitFor(() => extras.every((s) => s.results.length > 0) && apolloResults > 0 && urqlResults > 0, {
      timeoutMs: 15_000,
      what: 'every extra subscription to receive an event',
    });
    for (const s of extras) expect(s.error).toBeUndefined();

    const raised = await waitFor(
      () => {
        const c = latestConnections();
        return c !== undefined && c >= 1 + extraCount ? c : undefined;
      },
      { what: `a snapshot counting ${1 + extraCount} subscribers` },
    );
    // Exactly: no subscriber counted twice, none forgotten.
    expect(raised).toBe(1 + extraCount);
    expect(server.app.engine.subscriberCount()).toBe(1 + extraCount);
    // graphql-ws: observer, 2 plain, Apollo, urql. SSE: 2 distinct + 2 single.
    expect(server.app.engine.subscriberCount(undefined, 'graphql-ws')).toBe(5);
    expect(server.app.engine.subscriberCount(undefined, 'sse')).toBe(4);

    for (const s of extras) s.stop();
    apolloSubscription.unsubscribe();
    urqlSubscription.unsubscribe();
    for (const client of [ws, sseDistinct, sseSingle, apollo, urql]) await client.dispose();

    await waitFor(() => latestConnections() === 1, { what: 'a snapshot back at the observer alone' });
    expect(server.app.engine.subscriberCount()).toBe(1);
  });
});
