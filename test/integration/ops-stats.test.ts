import { describe, expect, test } from 'vitest';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import { collect, type Collected } from '../helpers/collect.ts';
import { connectionsOf, getStats, sampleValue, samplesOf, scrape, STATS_KEY_OF_STREAM, STATS_KEYS, type Stats } from '../helpers/ops.ts';
import { STREAM_NAMES, type StreamName } from '../helpers/contract.ts';
import { ingestOk, makeTransactions, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { openLegacy } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';

const STREAMS = STREAM_NAMES;
type Stream = StreamName;
const TRANSPORTS = ['legacy', 'graphql-ws', 'sse'] as const;
const doc = (stream: Stream) => `subscription { ${stream} { timestamp } }`;

/** Taken before the server starts: every event it publishes is younger than this. */
const beforeStart = Date.now();
const server = useTestServer({ METRICS_INTERVAL_MS: '200' });

const legacy = (path: string) => openLegacy(server, path);
const wsClient = () => graphqlWsClient(server);
const sseClient = (options: { singleConnection?: boolean } = {}) => graphqlSseClient(server, options);

/** Waits until the stats document reports `expected` for every stream (and their sum as the total). */
const statsShow = (expected: Record<Stream, number>, what: string) =>
  waitFor(
    async () => {
      const stats = await getStats(server);
      const total = STREAMS.reduce((sum, stream) => sum + expected[stream], 0);
      const ok = STREAMS.every((stream) => connectionsOf(stats, stream) === expected[stream]) && stats.totalConnections === total;
      return ok ? stats : undefined;
    },
    { what: `stats to show ${what}` },
  );
const each = (n: number) => Object.fromEntries(STREAMS.map((stream) => [stream, n])) as Record<Stream, number>;

describe('GET /api/v11/websocket/stats', () => {
  test('answers JSON with exactly the contract keys, all numbers, and no connections on an idle server', async () => {
    const response = await fetch(server.http('/api/v11/websocket/stats'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const stats = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(stats).sort()).toEqual([...STATS_KEYS].sort());
    for (const key of STATS_KEYS) {
      expect(typeof stats[key], key).toBe('number');
      expect(Number.isFinite(stats[key]), key).toBe(true);
    }
    for (const stream of STREAMS) expect(stats[STATS_KEY_OF_STREAM[stream]]).toBe(0);
    expect(stats.totalConnections).toBe(0);
    expect(stats.lastBroadcastLatency as number).toBeGreaterThanOrEqual(0);
  });
});

describe('connections on every transport, per stream', () => {
  test('legacy, graphql-ws and SSE subscribers are counted when they open and uncounted when they close', async () => {
    const legacyClients = await Promise.all(STREAMS.map((stream) => legacy(`/ws/${stream}`)));
    const ws = wsClient();
    const wsSubs = STREAMS.map((stream) => collect(ws, doc(stream)));
    const sse = sseClient();
    const sseSubs = STREAMS.map((stream) => collect(sse, doc(stream)));

    await statsShow(each(3), 'three subscribers per stream');
    const metrics = await scrape(server);
    for (const stream of STREAMS) {
      expect(sampleValue(metrics, 'aurigraph_websocket_connections_total', { endpoint: stream }), stream).toBe(3);
      for (const transport of TRANSPORTS) {
        expect(sampleValue(metrics, 'aurigraph_websocket_subscribers', { endpoint: stream, transport }), `${stream}/${transport}`).toBe(1);
      }
    }
    expect(sampleValue(metrics, 'aurigraph_transport_sockets', { transport: 'legacy' })).toBe(STREAMS.length);
    expect(sampleValue(metrics, 'aurigraph_transport_sockets', { transport: 'graphql-ws' })).toBe(1);

    // Close one transport at a time: each close must be seen, per stream, in both documents.
    const closeSteps: [string, () => Promise<unknown>][] = [
      ['legacy', () => Promise.all(legacyClients.map((client) => client.close()))],
      [
        'graphql-ws',
        async () => {
          await ws.dispose();
        },
      ],
      ['sse', async () => sseSubs.forEach((sub) => sub.stop())],
    ];
    let remaining = 3;
    const closedTransports: string[] = [];
    for (const [transport, close] of closeSteps) {
      await close();
      remaining--;
      closedTransports.push(transport);
      await statsShow(each(remaining), `${remaining} per stream after closing ${transport}`);
      const after = await scrape(server);
      for (const stream of STREAMS) {
        expect(sampleValue(after, 'aurigraph_websocket_connections_total', { endpoint: stream }), stream).toBe(remaining);
        for (const t of TRANSPORTS) {
          expect(sampleValue(after, 'aurigraph_websocket_subscribers', { endpoint: stream, transport: t }), `${stream}/${t}`).toBe(
            closedTransports.includes(t) ? 0 : 1,
          );
        }
      }
    }
    expect(sampleValue(await scrape(server), 'aurigraph_transport_sockets', { transport: 'legacy' })).toBe(0);
    // Unsubscribing is not an error on either GraphQL client.
    for (const sub of [...wsSubs, ...sseSubs]) expect(sub.error).toBeUndefined();
  });

  test('graphql-sse single-connection mode (/graphql/stream) is counted as SSE and uncounted on unsubscribe', async () => {
    const client = sseClient({ singleConnection: true });
    const sub = collect(client, doc('consensus'));
    await waitFor(() => sub.results.length >= 1, { what: 'a consensus result over /graphql/stream' });
    const stats = await statsShow({ ...each(0), consensus: 1 }, 'one consensus subscriber');
    expect(connectionsOf(stats, 'consensus')).toBe(1);
    expect(sampleValue(await scrape(server), 'aurigraph_websocket_subscribers', { endpoint: 'consensus', transport: 'sse' })).toBe(1);
    sub.stop();
    await statsShow(each(0), 'no subscribers after unsubscribing');
  });

  test('several subscriptions on one graphql-ws socket count once each', async () => {
    const ws = wsClient();
    const subs = [collect(ws, doc('transactions')), collect(ws, doc('transactions')), collect(ws, doc('network'))];
    await statsShow({ ...each(0), transactions: 2, network: 1 }, 'two transactions and one network subscriber');
    subs[0]?.stop();
    await statsShow({ ...each(0), transactions: 1, network: 1 }, 'one transactions subscriber left');
    await ws.dispose();
    await statsShow(each(0), 'nothing after dispose');
  });
});

describe('messages sent', () => {
  test('messagesSent rises with events, and counts what graphql-ws and SSE subscribers receive', async () => {
    const tx = await legacy('/ws/transactions');
    // Two graphql-ws sockets with the same operation: the server may execute it once, but writes two frames.
    const wsSubs: Collected<unknown>[] = [collect(wsClient(), doc('transactions')), collect(wsClient(), doc('transactions'))];
    const sse = sseClient();
    const sseSub: Collected<unknown> = collect(sse, doc('transactions'));
    await waitFor(() => tx.frames.length >= 5 && wsSubs.every((sub) => sub.results.length >= 5) && sseSub.results.length >= 5, {
      what: 'events on all three transports',
    });
    const first = await getStats(server);
    // Rises as events keep flowing (frames already in flight when `first` was read do not count).
    await waitFor(async () => (await getStats(server)).messagesSent >= first.messagesSent + 10, {
      what: 'messagesSent to rise with new events',
    });
    // Read what clients have before asking the server: everything received was counted before it was sent.
    const received = {
      legacy: tx.frames.length,
      'graphql-ws': wsSubs.reduce((sum, sub) => sum + sub.results.length, 0),
      sse: sseSub.results.length,
    };
    const metrics = await scrape(server);
    const second = await getStats(server);
    expect(second.messagesSent).toBeGreaterThanOrEqual(received.legacy + received['graphql-ws'] + received.sse);
    for (const transport of TRANSPORTS) {
      expect(
        sampleValue(metrics, 'aurigraph_messages_sent_by_stream_total', { endpoint: 'transactions', transport }),
        transport,
      ).toBeGreaterThanOrEqual(received[transport]);
    }
    expect(sampleValue(metrics, 'aurigraph_websocket_messages_sent_total')).toBeGreaterThanOrEqual(first.messagesSent);
  });

  test('on a fresh server with one legacy client, messagesSent equals the frames that client received', async () => {
    // A chain node sends a known number of events and nothing else is published: the counts compare what was sent
    // with what arrived, with no event racing the client's close.
    const fresh = await startTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN });
    const client = await openLegacy(fresh, '/ws/transactions');
    await waitFor(() => fresh.app.engine.subscriberCount('transactions') === 1, { what: 'the client to be subscribed' });
    await ingestOk(fresh, 'transactions', makeTransactions('sent', 0, 20));
    await waitFor(() => client.frames.length >= 20, { what: '20 transactions frames' });
    const stats = await getStats(fresh);
    expect(stats.messagesSent).toBe(20);
    expect(client.frames.length).toBe(20);
    expect(sampleValue(await scrape(fresh), 'aurigraph_websocket_messages_sent_total')).toBe(20);
    await client.close();
    await waitFor(async () => (await getStats(fresh)).totalConnections === 0, { what: 'the closed client to leave the stats' });
  });

  test('lastBroadcastLatency is a non-negative number of ms once events flow', async () => {
    const client = await legacy('/ws/transactions');
    await waitFor(() => client.frames.length >= 3, { what: 'transactions frames' });
    const stats: Stats = await getStats(server);
    expect(typeof stats.lastBroadcastLatency).toBe('number');
    expect(stats.lastBroadcastLatency).toBeGreaterThanOrEqual(0);
    // ms, not ns or µs: a fan-out of an event published after the server started cannot have taken longer than
    // the server has been running (a bound from causality, not from the machine's speed).
    expect(stats.lastBroadcastLatency).toBeLessThanOrEqual(Date.now() - beforeStart);
  });
});

describe('GET /metrics', () => {
  test('is Prometheus text with the contract families, typed, plus process metrics', async () => {
    const client = await legacy('/ws/transactions');
    await waitFor(() => client.frames.length >= 3, { what: 'transactions frames' });
    const metrics = await scrape(server);
    expect(metrics.contentType).toMatch(/^text\/plain/);
    expect(metrics.types.get('aurigraph_websocket_connections_total')).toBe('gauge');
    expect(metrics.types.get('aurigraph_websocket_messages_sent_total')).toBe('counter');
    expect(['histogram', 'gauge']).toContain(metrics.types.get('aurigraph_websocket_broadcast_latency_ms'));
    expect(metrics.types.get('aurigraph_websocket_subscribers')).toBe('gauge');
    expect(metrics.types.get('aurigraph_connections_terminated_total')).toBe('counter');
    expect(metrics.types.get('aurigraph_messages_dropped_total')).toBe('counter');
    for (const stream of STREAMS) {
      expect(sampleValue(metrics, 'aurigraph_websocket_connections_total', { endpoint: stream }), stream).toBeTypeOf('number');
    }
    expect(sampleValue(metrics, 'aurigraph_websocket_messages_sent_total')).toBeGreaterThan(0);
    expect(sampleValue(metrics, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(metrics, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(metrics, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(metrics.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  test('the broadcast latency histogram observes fan-outs per stream, with consistent buckets', async () => {
    const client = await legacy('/ws/transactions');
    await waitFor(() => client.frames.length >= 5, { what: 'transactions frames' });
    const metrics = await scrape(server);
    expect(metrics.types.get('aurigraph_websocket_broadcast_latency_ms')).toBe('histogram');
    const name = 'aurigraph_websocket_broadcast_latency_ms';
    const count = sampleValue(metrics, `${name}_count`, { endpoint: 'transactions' }) ?? 0;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, `${name}_sum`, { endpoint: 'transactions' })).toBeGreaterThanOrEqual(0);
    const buckets = samplesOf(metrics, `${name}_bucket`, { endpoint: 'transactions' });
    const values = buckets.map((bucket) => bucket.value);
    expect(values.length).toBeGreaterThan(1);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1] as number);
    expect(buckets.find((bucket) => bucket.labels.le === '+Inf')?.value).toBe(count);
  });
});
