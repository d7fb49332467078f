import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ConsensusRoundsDocument,
  FullMetricsDocument,
  LiveMetricsDocument,
  LiveTransactionsDocument,
  ValidatorChangesDocument,
} from '../../examples/generated/graphql.ts';
import { apolloClient, graphqlSseClient, graphqlWsClient, subscribe, urqlClient } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { take, waitFor } from '../helpers/wait.ts';

describe('metrics at the default 1 s interval', () => {
  let server: TestServer;
  beforeAll(async () => {
    // No METRICS_INTERVAL_MS override: the contract's default of 1 s.
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test('the server config carries the contract default', () => {
    expect(server.config.metricsIntervalMs).toBe(1000);
  });

  test('snapshots arrive about once per second: 3 consecutive ones span roughly 2 s', async () => {
    const client = graphqlWsClient(server);
    try {
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
      // Bounds are generous on purpose (a loaded 2-core machine delays timers), yet they fail if the
      // ticker runs at, say, twice or half the configured rate.
      const gaps = [(times[1] as number) - (times[0] as number), (times[2] as number) - (times[1] as number)];
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(800);
        expect(gap).toBeLessThanOrEqual(3_500);
      }
      const span = (times[2] as number) - (times[0] as number);
      expect(span).toBeGreaterThanOrEqual(1_800);
      expect(span).toBeLessThanOrEqual(6_000);
    } finally {
      await client.dispose();
    }
  });
});

describe('metrics.connections counts live subscribers over all transports', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ METRICS_INTERVAL_MS: '100' });
  });
  afterAll(() => server.stop());

  test('opening N subscriptions on various transports raises it by N; closing them brings it back', async () => {
    const observerClient = graphqlWsClient(server);
    const observer = collect(observerClient, FullMetricsDocument);
    const latestConnections = () => observer.results.at(-1)?.data?.metrics.connections;
    const disposers: (() => unknown)[] = [];
    try {
      // The observer is itself a live subscriber: the quiet baseline is exactly 1.
      await waitFor(() => latestConnections() === 1, { what: 'a snapshot counting only the observer' });

      const ws = graphqlWsClient(server);
      disposers.push(() => ws.dispose());
      const sseDistinct = graphqlSseClient(server);
      disposers.push(() => sseDistinct.dispose());
      const sseSingle = graphqlSseClient(server, { singleConnection: true });
      disposers.push(() => sseSingle.dispose());
      const apollo = apolloClient(server);
      disposers.push(() => apollo.dispose());
      const urql = urqlClient(server);
      disposers.push(() => urql.dispose());

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
      disposers.unshift(() => apolloSubscription.unsubscribe());
      let urqlResults = 0;
      const urqlSubscription = urql.client.subscription(LiveMetricsDocument, {}).subscribe(() => urqlResults++);
      disposers.unshift(() => urqlSubscription.unsubscribe());
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
      for (const dispose of disposers.splice(0)) await dispose();

      await waitFor(() => latestConnections() === 1, { what: 'a snapshot back at the observer alone' });
      expect(server.app.engine.subscriberCount()).toBe(1);
    } finally {
      for (const dispose of disposers) await dispose();
      observer.stop();
      await observerClient.dispose();
    }
  });
});
