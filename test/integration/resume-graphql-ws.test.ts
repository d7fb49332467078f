import { beforeAll, describe, expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import { sampleValue, scrape } from '../helpers/ops.ts';
import { expectReplayThenLive, GRAPHQL_WS_RESUME, testResumeScenarios } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';
import { attached, clientFeed, latestSeq } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * graphql-ws: a client reads some transactions, its socket drops without a
 * close handshake, it reconnects with `after: <last cursor>` while the chain
 * keeps producing at SIM_TPS=200 (≈400 events/s); what it received before and
 * after is every seq exactly once. Also `replay: N`.
 */

describe('graphql-ws resume and replay', () => {
  const server = useTestServer({ SIM_TPS: '200' });
  testResumeScenarios(server, GRAPHQL_WS_RESUME);

  test('every result carries its cursor in extensions too, equal to the cursor field', async () => {
    const feed = clientFeed(graphqlWsClient(server), 'transactions');
    await waitFor(() => feed.events.length >= 20, { what: '20 transactions' });
    for (const event of feed.events) expect(event['extensionCursor'], `seq ${event.seq}`).toBe(event.cursor);
  });
});

describe('graphql-ws, a whole buffer of history at once', () => {
  const server = useTestServer();
  beforeAll(async () => {
    // Fill the default 10,000-event history quickly: copies of a real transaction, published into the stream
    // where the bus would put them (a slow chain keeps running alongside, so live events follow).
    const hub = server.app.streams.hubs.transactions;
    const sample = await waitFor(() => hub.latest(), { what: 'a first transaction' });
    const { seq: _seq, cursor: _cursor, ...event } = sample;
    for (let i = 0; i < 10_000; i++) {
      hub.publish({ ...event, timestamp: new Date().toISOString(), txHash: `0x${i.toString(16).padStart(64, '0')}` });
    }
  });

  test('replay of the full 10,000-event history reaches a reading client whole, then live', async () => {
    // Thousands of retained events written in one go are history, not a slow reader (legacy exempts history
    // from the send cap too): a client that reads as fast as it can must get all of them, then live events.
    const client = graphqlWsClient(server);
    const newestBefore = latestSeq(server, 'transactions');
    const feed = clientFeed(client, 'transactions', { replay: 10_000 }, 'replay 10000');
    const newestAfter = (await attached(server, 'transactions', 1)) - 1;
    await waitFor(() => feed.ended || feed.events.some((e) => e.seq > newestAfter + 20), {
      timeoutMs: 20_000,
      what: 'the replay and live events',
    });
    const close = feed.failure as { code?: number; reason?: string } | undefined;
    expect(
      close === undefined ? 'still open' : `closed ${close.code ?? ''} ${close.reason ?? String(close)}`,
      `after ${feed.events.length} events`,
    ).toBe('still open');
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
    expect(sampleValue(scraped, 'aurigraph_history_messages_sent_total', { endpoint: 'transactions', transport: 'graphql-ws' })).toBe(
      10_000,
    );
  });
});
