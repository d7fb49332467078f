import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { print, type DocumentNode } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import { describe, expect, test } from 'vitest';
import {
  ConsensusRoundsDocument,
  FullMetricsDocument,
  LiveMetricsDocument,
  LiveTransactionsDocument,
  PeerChurnDocument,
  ValidatorChangesDocument,
} from '../../examples/generated/graphql.ts';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import { collect, type Collected } from '../helpers/collect.ts';
import { listenerCounts, liveSubscribers, watchHubRegistrations } from '../helpers/leaks.ts';
import { useTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, GRAPHQL_WS_PROTOCOL, messagesOfType } from '../helpers/sockets.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';
import { jsonMessages, rawUpgrade, textFrame } from '../helpers/ws-frames.ts';

const DOCUMENTS: readonly DocumentNode[] = [
  LiveTransactionsDocument,
  LiveMetricsDocument,
  ConsensusRoundsDocument,
  ValidatorChangesDocument,
  PeerChurnDocument,
];

/**
 * Runs `total` subscribe/unsubscribe cycles, `concurrency` at a time, in three
 * flavours: unsubscribe in the same tick (the `complete` races the server's
 * setup), unsubscribe after one macrotask (mid-setup), and unsubscribe after the
 * first event (a fully live subscription). Returns how many were proven live.
 */
async function churn(
  subscribeOnce: (document: DocumentNode) => Collected<unknown>,
  total: number,
  concurrency: number,
): Promise<{ live: number; errors: unknown[] }> {
  let live = 0;
  const errors: unknown[] = [];
  for (let start = 0; start < total; start += concurrency) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(total, start + concurrency); i++) {
      const flavour = i % 3;
      batch.push(
        (async () => {
          if (flavour === 0) {
            const s = subscribeOnce(DOCUMENTS[i % DOCUMENTS.length] as DocumentNode);
            s.stop();
            return;
          }
          if (flavour === 1) {
            const s = subscribeOnce(DOCUMENTS[i % DOCUMENTS.length] as DocumentNode);
            await new Promise((resolve) => setImmediate(resolve));
            s.stop();
            if (s.error !== undefined) errors.push(s.error);
            return;
          }
          // Fast streams only, so waiting for an event stays quick.
          const s = subscribeOnce(i % 2 === 0 ? LiveTransactionsDocument : FullMetricsDocument);
          try {
            await waitFor(() => s.results.length > 0 || s.ended, { what: 'a first event' });
            if (s.results.length > 0) live++;
            if (s.error !== undefined) errors.push(s.error);
            for (const r of s.results) if (r.errors) errors.push(r.errors);
          } finally {
            s.stop();
          }
        })(),
      );
    }
    await Promise.all(batch);
  }
  return { live, errors };
}

/** Watches the hubs' listener registrations until the test ends. */
const watchHubs = (streams: Parameters<typeof watchHubRegistrations>[0]) => track(watchHubRegistrations(streams), (w) => w.restore());

describe('unsubscribe and disconnect release everything', () => {
  const server = useTestServer({ METRICS_INTERVAL_MS: '50' });

  test('1,000 subscribe/unsubscribe cycles over one graphql-ws connection leave nothing behind', async () => {
    const httpServer = server.app.server;
    const serverSocket = new Promise<Duplex>((resolve) => {
      httpServer.once('upgrade', (_request, socket: Duplex) => resolve(socket));
    });
    let connections = 0;
    // Not lazy: one connection for the whole test, even between batches.
    const client: WsClient = graphqlWsClient(server, { lazy: false, on: { connected: () => connections++ } });
    const hubWatch = watchHubs(server.app.streams);
    await waitFor(() => connections === 1, { what: 'the client to connect' });
    const socket = await serverSocket;
    // Warm up once so lazily created state (parser caches, first-use listeners) is in the baseline.
    await churn((doc) => collect(client, doc), 6, 6);
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'warm-up release' });

    const baseline = {
      socket: listenerCounts(socket),
      server: listenerCounts(httpServer),
      process: listenerCounts(process),
    };

    const { live, errors } = await churn((doc) => collect(client, doc), 1000, 50);
    expect(errors).toEqual([]);
    // A third of the cycles waited for an event: they really were live on the server.
    expect(live).toBeGreaterThanOrEqual(300);

    await waitFor(() => server.app.engine.subscriberCount() === 0, {
      what: `every subscriber to be released (still live: ${JSON.stringify(liveSubscribers(server.app.engine))})`,
    });
    expect(liveSubscribers(server.app.engine)).toEqual({});
    // Emptied delivery groups are gone too (nothing rendered for nobody).
    expect(server.app.engine.groupCount()).toBe(0);
    expect(hubWatch.outstanding()).toEqual({});
    expect(connections).toBe(1);
    expect(listenerCounts(socket)).toEqual(baseline.socket);
    expect(listenerCounts(httpServer)).toEqual(baseline.server);
    expect(listenerCounts(process)).toEqual(baseline.process);

    // The connection is still healthy after all that.
    const after = collect(client, LiveTransactionsDocument);
    await waitFor(() => after.results.length > 0, { what: 'a subscription after the churn' });
    expect(server.app.engine.subscriberCount(undefined, 'graphql-ws')).toBe(1);
    after.stop();
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'the last subscriber to be released' });
  });

  test('a batch of SSE subscribe/unsubscribe cycles (distinct and single connection) leaves nothing behind', async () => {
    const httpServer = server.app.server;
    const connectionCount = () =>
      new Promise<number>((resolve, reject) => httpServer.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const hubWatch = watchHubs(server.app.streams);
    const distinct = graphqlSseClient(server);
    const single = graphqlSseClient(server, { singleConnection: true });
    const baseline = { server: listenerCounts(httpServer), process: listenerCounts(process) };
    const connectionsBefore = await connectionCount();

    const a = await churn((doc) => collect(distinct, doc), 150, 15);
    const b = await churn((doc) => collect(single, doc), 150, 15);
    expect([...a.errors, ...b.errors]).toEqual([]);
    expect(a.live).toBeGreaterThanOrEqual(45);
    expect(b.live).toBeGreaterThanOrEqual(45);

    await waitFor(() => server.app.engine.subscriberCount() === 0, {
      what: `every SSE subscriber to be released (still live: ${JSON.stringify(liveSubscribers(server.app.engine))})`,
    });
    expect(server.app.engine.groupCount()).toBe(0);
    expect(hubWatch.outstanding()).toEqual({});
    expect(listenerCounts(httpServer)).toEqual(baseline.server);
    expect(listenerCounts(process)).toEqual(baseline.process);

    single.dispose();
    distinct.dispose();
    // Aborted event streams close their connections; idle keep-alive ones time out (server default 5 s).
    await waitFor(async () => (await connectionCount()) <= connectionsBefore, {
      timeoutMs: 15_000,
      what: 'HTTP connections to return to the baseline',
    });
  });

  test('abrupt termination of a graphql-ws socket releases all of its subscribers', async () => {
    const socket = await acknowledgedSocket(server);
    DOCUMENTS.forEach((document, i) => socket.send({ type: 'subscribe', id: String(i), payload: { query: print(document) } }));
    await waitFor(() => server.app.engine.subscriberCount(undefined, 'graphql-ws') === DOCUMENTS.length, {
      what: 'all subscriptions to register',
    });
    await waitFor(() => messagesOfType(socket, 'next').length > 0, { what: 'events to flow' });

    socket.ws.terminate(); // no close frame: the TCP connection is simply destroyed
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'the terminated socket’s subscribers to be released' });
    expect(liveSubscribers(server.app.engine)).toEqual({});
    expect(server.app.engine.groupCount()).toBe(0);
  });

  test('abrupt termination of an SSE response releases its subscriber', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest(server.http('/graphql'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('event: next')) resolve(res.socket);
        });
        res.on('error', () => {});
      });
      req.end(JSON.stringify({ query: print(LiveTransactionsDocument) }));
    });
    expect(server.app.engine.subscriberCount(undefined, 'sse')).toBe(1);
    socket.destroy();
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'the SSE subscriber to be released' });
  });
});

describe('dead peers are dropped', () => {
  const server = useTestServer({ WS_PING_INTERVAL_MS: '200' });

  test('a graphql-ws peer that stops answering pings is terminated and its subscriber released', async () => {
    // A bare TCP socket, so the test controls whether pongs are sent.
    const raw = await rawUpgrade(server.port, '/graphql', { protocol: GRAPHQL_WS_PROTOCOL });
    const received = () => jsonMessages(raw.bytes());
    raw.send(textFrame(JSON.stringify({ type: 'connection_init' })));
    await waitFor(() => received().some((m) => m['type'] === 'connection_ack'), { what: 'connection_ack' });
    raw.send(textFrame(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: print(LiveTransactionsDocument) } })));
    await waitFor(() => received().some((m) => m['type'] === 'next'), { what: 'events to flow' });
    expect(server.app.engine.subscriberCount(undefined, 'graphql-ws')).toBe(1);

    // Stop reading: pings pile up unanswered in the kernel buffer, as with a vanished peer.
    raw.socket.pause();
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'the dead peer to be dropped' });
  });
});
