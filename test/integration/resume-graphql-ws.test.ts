import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { graphqlWsClient } from '../helpers/clients.ts';
import { sampleValue, scrape } from '../helpers/ops.ts';
import {
  expectFilteredReplayThenLive,
  expectLosslessFilteredResume,
  expectLosslessResume,
  expectReplayThenLive,
  flowedPast,
  reached,
} from '../helpers/resume-checks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { attached, clientFeed, latestSeq, matchesTransaction, settledAt, type Feed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * graphql-ws: a client reads some transactions, its socket drops without a
 * close handshake, it reconnects with `after: <last cursor>` while the chain
 * keeps producing at SIM_TPS=200 (≈400 events/s); what it received before and
 * after is every seq exactly once. Also `replay: N`.
 */

/** A graphql-ws client whose underlying sockets the test can reach, to drop them abruptly. */
function droppableClient(server: TestServer) {
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  const client = graphqlWsClient(server, { webSocketImpl: TrackedWebSocket });
  return {
    client,
    /** Drops the TCP connection: no close frame, no `complete`, like a laptop lid closing. */
    drop() {
      for (const socket of sockets) socket.terminate();
    },
  };
}

describe('graphql-ws resume and replay', () => {
  let server: TestServer;
  const cleanup: (() => unknown)[] = [];

  beforeAll(async () => {
    server = await startTestServer({ SIM_TPS: '200' });
  });
  // Each test starts with no subscribers, so attach barriers count only its own.
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    await settledAt(server, 'transactions', 0);
  });
  afterAll(() => server?.stop());

  test('after an abrupt drop, resuming with after: <last cursor> loses nothing and repeats nothing', async () => {
    const first = droppableClient(server);
    cleanup.push(() => first.client.dispose());
    const before = clientFeed(first.client, 'transactions', {}, 'before the drop');
    await waitFor(() => before.events.length >= 150, { what: '150 transactions before the drop' });
    first.drop();
    await waitFor(() => before.ended, { what: 'the client to notice the drop' });
    const last = before.events.at(-1);
    expect(last?.['extensionCursor'], 'extensions.cursor equals the cursor field').toBe(last?.cursor);

    // The chain keeps going while the client is away.
    const newestBeforeReconnect = await flowedPast(server, 'transactions', last?.seq ?? 0, 200);
    const second = graphqlWsClient(server);
    cleanup.push(() => second.dispose());
    const after = clientFeed(second, 'transactions', { after: before.lastCursor() }, 'resumed');
    cleanup.push(() => after.stop());
    await reached(after, newestBeforeReconnect + 300);
    expectLosslessResume(before, after, { newestBeforeReconnect });
  });

  test('a filtered subscription resumes with exactly the matching events it missed', async () => {
    const filter = { status: ['SUCCESS', 'FAILED'] };
    const controlClient = graphqlWsClient(server);
    cleanup.push(() => controlClient.dispose());
    const control = clientFeed(controlClient, 'transactions', {}, 'control');
    cleanup.push(() => control.stop());
    await attached(server, 'transactions', 1);

    const first = droppableClient(server);
    cleanup.push(() => first.client.dispose());
    const before = clientFeed(first.client, 'transactions', { filter }, 'filtered before the drop');
    await waitFor(() => before.events.length >= 60, { what: '60 finished transactions' });
    first.drop();
    await waitFor(() => before.ended, { what: 'the drop' });
    const newest = await flowedPast(server, 'transactions', (before.events.at(-1)?.seq ?? 0), 200);
    const second = graphqlWsClient(server);
    cleanup.push(() => second.dispose());
    const after = clientFeed(second, 'transactions', { filter, after: before.lastCursor() }, 'filtered resumed');
    cleanup.push(() => after.stop());
    await reached(after, newest + 200);
    await reached(control, (after.events.at(-1)?.seq ?? 0));
    expect(control.events[0]?.seq).toBeLessThanOrEqual(before.events[0]?.seq ?? 0);
    expectLosslessFilteredResume(control, before, after, (e) => matchesTransaction(filter, e));
  });

  test('replay: N sends the last N events first, then live, contiguous', async () => {
    const client = graphqlWsClient(server);
    cleanup.push(() => client.dispose());
    const newestBefore = latestSeq(server, 'transactions');
    const feed = clientFeed(client, 'transactions', { replay: 50 }, 'replay 50');
    cleanup.push(() => feed.stop());
    const newestAfter = (await attached(server, 'transactions', 1)) - 1;
    await reached(feed, newestAfter + 200);
    expectReplayThenLive(feed, 50, newestBefore, newestAfter);
  });

  test('replay: N with a filter sends the last N matching events first, then live', async () => {
    const filter = { status: ['FAILED'] };
    const client = graphqlWsClient(server);
    cleanup.push(() => client.dispose());
    const control: Feed = clientFeed(client, 'transactions', {}, 'control');
    cleanup.push(() => control.stop());
    // The control must have seen more matching events than the replay asks for, before the replay starts.
    await waitFor(() => control.events.filter((e) => matchesTransaction(filter, e)).length >= 12, {
      timeoutMs: 20_000,
      what: '12 FAILED transactions',
    });
    const newestBefore = latestSeq(server, 'transactions');
    const feed = clientFeed(client, 'transactions', { filter, replay: 5 }, 'replay 5 FAILED');
    cleanup.push(() => feed.stop());
    const newestAfter = (await attached(server, 'transactions', 2)) - 1;
    await waitFor(() => feed.events.some((e) => e.seq > newestAfter), { timeoutMs: 20_000, what: 'a live FAILED transaction' });
    await reached(control, feed.events.at(-1)?.seq ?? 0);
    expectFilteredReplayThenLive(control, feed, 5, (e) => matchesTransaction(filter, e), newestBefore, newestAfter);
  });
});

describe('graphql-ws, a whole buffer of history at once', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    // Fill the default 10,000-event history quickly: copies of a real transaction, published into the stream
    // where the bus would put them (a slow chain keeps running alongside, so live events follow).
    const hub = server.app.streams.hubs.transactions;
    const sample = await waitFor(() => hub.latest(), { what: 'a first transaction' });
    const { seq: _seq, cursor: _cursor, ...event } = sample;
    for (let i = 0; i < 10_000; i++) {
      hub.publish({ ...event, timestamp: new Date().toISOString(), txHash: `0x${i.toString(16).padStart(64, '0')}` });
    }
  });
  afterAll(() => server?.stop());

  test('replay of the full 10,000-event history reaches a reading client whole, then live', async () => {
    // Thousands of retained events written in one go are history, not a slow reader (legacy exempts history
    // from the send cap too): a client that reads as fast as it can must get all of them, then live events.
    const client = graphqlWsClient(server);
    try {
      const newestBefore = latestSeq(server, 'transactions');
      const feed = clientFeed(client, 'transactions', { replay: 10_000 }, 'replay 10000');
      const newestAfter = (await attached(server, 'transactions', 1)) - 1;
      await waitFor(() => feed.ended || feed.events.some((e) => e.seq > newestAfter + 20), {
        timeoutMs: 20_000,
        what: 'the replay and live events',
      });
      const close = feed.failure as { code?: number; reason?: string } | undefined;
      expect(close === undefined ? 'still open' : `closed ${close.code ?? ''} ${close.reason ?? String(close)}`, `after ${feed.events.length} events`).toBe('still open');
      expectReplayThenLive(feed, 10_000, newestBefore, newestAfter);
      feed.stop();
      // History is counted as history, never as live broadcast (so never as broadcast latency either).
      const { historyBy, sentBy } = server.app.counters.stats;
      expect(historyBy.transactions['graphql-ws'], 'replayed events counted as history').toBe(10_000);
      const liveReceived = feed.events.filter((e) => e.seq > newestAfter).length;
      // Live delivery starts after the backlog, which covered at least everything up to newestBefore.
      const livePublished = latestSeq(server, 'transactions') - newestBefore;
      expect(sentBy.transactions['graphql-ws'], 'live frames: what was received live, at least').toBeGreaterThanOrEqual(liveReceived);
      expect(sentBy.transactions['graphql-ws'], 'live frames: no more than live events published').toBeLessThanOrEqual(livePublished);
      const scraped = await scrape(server);
      expect(sampleValue(scraped, 'aurigraph_history_messages_sent_total', { endpoint: 'transactions', transport: 'graphql-ws' })).toBe(10_000);
    } finally {
      await client.dispose();
    }
  });
});
