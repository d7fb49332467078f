/**
 * Issue 11, inputs 7, 8, 12 and 13: what the delivery engine counts and how it
 * treats readers that stop reading — on every WebSocket transport alike.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { describe, expect, test } from 'vitest';
import { fullSelection } from '../helpers/contract.ts';
import { ingestOk, makeTransactions, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { acknowledgedSocket, messagesOfType, refusedLegacy, type ClientSocket } from '../helpers/sockets.ts';
import { legacyFeed, type LegacyFeed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

const terminated = (server: TestServer, transport: string) =>
  server.app.counters.stats.terminatedBy.get(`${transport}\u0000slow-consumer`) ?? 0;

async function graphqlWsSubscriber(server: TestServer, query: string): Promise<ClientSocket> {
  const socket = await acknowledgedSocket(server);
  socket.send({ id: 's', type: 'subscribe', payload: { query } });
  await waitFor(() => messagesOfType(socket, 'next').length > 0, { what: 'the first event' });
  return socket;
}

/** Stops reading: the kernel buffers fill, and the peer answers no ping any more. */
function stall(socket: WebSocket): void {
  (socket as unknown as { _socket: Socket })._socket.pause();
}

describe('input 7: history is not broadcast latency', () => {
  test('replaying 20 hour-old events counts 20 history frames, no live frame, and no latency observation', async () => {
    const server = await startTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN });
    const hourAgo = Date.now() - 3_600_000;
    const old = makeTransactions('old', 0, 20).map((tx, i) => ({ ...tx, timestamp: new Date(hourAgo + i).toISOString() }));
    await ingestOk(server, 'transactions', old);
    const feed = await legacyFeed(server, '/ws/transactions?replay=20');
    await waitFor(() => feed.events.length === 20, { what: '20 replayed events' });
    const { stats } = server.app.counters;
    expect(stats.historyBy.transactions.legacy).toBe(20);
    expect(stats.messagesSent).toBe(0);
    expect(stats.lastBroadcastLatency).toBe(0);
    const metrics = await (await fetch(server.http('/metrics'))).text();
    expect(metrics).toMatch(/aurigraph_history_messages_sent_total\{endpoint="transactions",transport="legacy"\} 20/);
    expect(metrics).not.toMatch(/aurigraph_websocket_broadcast_latency_ms_count\{endpoint="transactions"\} [1-9]/);
  });
});

describe('input 8: a graphql-ws subscriber closed as a slow consumer', () => {
  test('is counted at once in aurigraph_connections_terminated_total and stops counting as a subscriber at the same moment', async () => {
    const server = await startTestServer({ SIM_TPS: '2000', SLOW_CONSUMER_LAG_MS: '500' });
    const socket = await graphqlWsSubscriber(server, `subscription { transactions { ${fullSelection('transactions')} } }`);
    expect(server.app.engine.subscriberCount('transactions', 'graphql-ws')).toBe(1);
    stall(socket.ws);
    // Observed together: the moment the termination is counted, the subscriber is gone.
    const observed = await waitFor(
      () =>
        terminated(server, 'graphql-ws') > 0 && {
          terminated: terminated(server, 'graphql-ws'),
          subscribers: server.app.engine.subscriberCount('transactions'),
        },
      { what: 'the slow consumer to be closed', timeoutMs: 20_000 },
    );
    expect(observed).toEqual({ terminated: 1, subscribers: 0 });
    const metrics = await (await fetch(server.http('/metrics'))).text();
    expect(metrics).toMatch(/aurigraph_connections_terminated_total\{transport="graphql-ws",reason="slow-consumer"\} 1/);
    // The client, reading again, finds its socket closed (4008 if the close frame got through, else cut).
    (socket.ws as unknown as { _socket: Socket })._socket.resume();
    expect([4008, 1006]).toContain((await socket.closed).code);
  });
});

describe('input 12: stalled readers are judged by how far behind they are, and cannot hold back the others', () => {
  test('three stalled legacy sockets are closed and counted while a reader beside them gets every event in order', async () => {
    const server = await startTestServer({ SIM_TPS: '1000', SLOW_CONSUMER_LAG_MS: '500' });
    const reader = await graphqlWsSubscriber(server, 'subscription { transactions { seq } }');
    const stalled: LegacyFeed[] = [];
    for (let i = 0; i < 3; i++) {
      const feed = await legacyFeed(server, '/ws/transactions');
      await waitFor(() => feed.frames.length > 0, { what: 'a first frame' });
      stall(feed.socket);
      stalled.push(feed);
    }
    await waitFor(() => terminated(server, 'legacy') === 3, { what: 'the three stalled sockets closed', timeoutMs: 20_000 });
    expect(server.app.engine.subscriberCount('transactions', 'legacy')).toBe(0);
    const seqs = messagesOfType(reader, 'next').map(
      (m) => (m['payload'] as { data: { transactions: { seq: number } } }).data.transactions.seq,
    );
    expect(seqs.length).toBeGreaterThan(0);
    expect(
      seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] as number) + 1),
      'no gap, no repeat for the reader',
    ).toBe(true);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(terminated(server, 'graphql-ws')).toBe(0);
  });

  test('a stalled metrics reader is not closed: its snapshots are skipped and counted (conflate policy)', async () => {
    const server = await startTestServer({ METRICS_INTERVAL_MS: '50', SLOW_CONSUMER_LAG_MS: '200', WS_PING_INTERVAL_MS: '2000' });
    const feed = await legacyFeed(server, '/ws/metrics');
    await waitFor(() => feed.frames.length > 0, { what: 'a first frame' });
    // A probe goes out with the next heartbeat at the latest; unanswered, the reader counts as behind.
    stall(feed.socket);
    await waitFor(() => (server.app.counters.stats.droppedBy.get('metrics\u0000legacy\u0000slow-consumer') ?? 0) > 0, {
      what: 'skipped snapshots',
      timeoutMs: 20_000,
    });
    expect(terminated(server, 'legacy')).toBe(0);
  });
});

describe('input 13: legacy query parameters', () => {
  test('an unknown parameter is a 400 naming the allowed ones, before the handshake', async () => {
    const server = await startTestServer();
    const refused = await refusedLegacy(server, '/ws/transactions?stauts=FAILED');
    expect(refused.status).toBe(400);
    const body = JSON.parse(refused.body) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]?.message).toMatch(/unknown query parameter "stauts"/);
    expect(body.errors[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST', argument: 'stauts' });
    expect(body.errors[0]?.extensions['allowed']).toEqual(
      expect.arrayContaining(['status', 'from', 'to', 'address', 'minValue', 'maxValue', 'since', 'replay', 'meta']),
    );
  });
});
