import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { graphqlSseClient } from '../helpers/clients.ts';
import {
  expectFilteredReplayThenLive,
  expectLosslessFilteredResume,
  expectLosslessResume,
  expectReplayThenLive,
  flowedPast,
  reached,
} from '../helpers/resume-checks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { attached, clientFeed, latestSeq, matchesTransaction, rawSseFeed, settledAt, stopAll, type Feed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * SSE on /graphql: every event carries `id: <cursor>`; a client that loses the
 * connection reconnects with `Last-Event-ID` (what a browser's EventSource
 * does by itself) and resumes exactly after it, while the chain keeps
 * producing at SIM_TPS=200. Also `after` and `replay` as arguments.
 */

let server: TestServer;
const feeds: Feed[] = [];
const track = <F extends Feed>(feed: F): F => {
  feeds.push(feed);
  return feed;
};

beforeAll(async () => {
  server = await startTestServer({ SIM_TPS: '200' });
});
// Each test starts with no subscribers, so attach barriers count only its own.
afterEach(async () => {
  stopAll(feeds.splice(0));
  await settledAt(server, 'transactions', 0);
});
afterAll(() => server?.stop());

test('every SSE event has id: <cursor>, the same cursor as the field and extensions.cursor', async () => {
  const feed = track(rawSseFeed(server, 'transactions'));
  await waitFor(() => feed.events.length >= 20, { what: '20 SSE events' });
  feed.stop();
  expect(feed.status).toBe(200);
  for (const event of feed.events) {
    expect(event['sseId'], `seq ${event.seq}`).toBe(event.cursor);
    expect(event['extensionCursor'], `seq ${event.seq}`).toBe(event.cursor);
  }
});

test('after a dropped connection, Last-Event-ID resumes with nothing lost and nothing repeated', async () => {
  const before = track(rawSseFeed(server, 'transactions', {}, { label: 'before the drop' }));
  await waitFor(() => before.events.length >= 150, { what: '150 events before the drop' });
  before.stop(); // the TCP connection goes away mid-stream
  await waitFor(() => before.ended, { what: 'the request to end' });
  const lastEventId = before.lastEventId();
  expect(lastEventId).toBe(before.lastCursor());
  const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
  const after = track(rawSseFeed(server, 'transactions', {}, { lastEventId: lastEventId as string, label: 'resumed' }));
  await reached(after, newestBeforeReconnect + 300);
  expectLosslessResume(before, after, { newestBeforeReconnect });
});

test('a filtered SSE subscription resumes with Last-Event-ID with exactly the matching events it missed', async () => {
  const filter = { status: ['SUCCESS', 'FAILED'] };
  const control = track(rawSseFeed(server, 'transactions', {}, { label: 'control' }));
  await attached(server, 'transactions', 1);
  const before = track(rawSseFeed(server, 'transactions', { filter }, { label: 'filtered before the drop' }));
  await waitFor(() => before.events.length >= 60, { what: '60 finished transactions' });
  before.stop();
  await waitFor(() => before.ended, { what: 'the drop' });
  const newest = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
  const after = track(rawSseFeed(server, 'transactions', { filter }, { lastEventId: before.lastEventId() as string, label: 'filtered resumed' }));
  await reached(after, newest + 200);
  await reached(control, after.events.at(-1)?.seq ?? 0);
  expectLosslessFilteredResume(control, before, after, (e) => matchesTransaction(filter, e));
});

test('the after argument resumes over SSE too (graphql-sse client)', async () => {
  const client = graphqlSseClient(server);
  try {
    const before = track(clientFeed(client, 'transactions', {}, 'graphql-sse before'));
    await waitFor(() => before.events.length >= 100, { what: '100 events' });
    before.stop();
    const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 100);
    const after = track(clientFeed(client, 'transactions', { after: before.lastCursor() }, 'graphql-sse resumed'));
    await reached(after, newestBeforeReconnect + 200);
    expectLosslessResume(before, after, { newestBeforeReconnect });
  } finally {
    client.dispose();
  }
});

test('replay: N over SSE sends the last N events first, then live', async () => {
  const newestBefore = latestSeq(server, 'transactions');
  const feed = track(rawSseFeed(server, 'transactions', { replay: 40 }, { label: 'replay 40' }));
  const newestAfter = (await attached(server, 'transactions', 1)) - 1;
  await reached(feed, newestAfter + 200);
  expectReplayThenLive(feed, 40, newestBefore, newestAfter);
});

test('replay: N with a filter over SSE sends the last N matching events first, then live', async () => {
  const filter = { status: ['FAILED'] };
  const control = track(rawSseFeed(server, 'transactions', {}, { label: 'control' }));
  await waitFor(() => control.events.filter((e) => matchesTransaction(filter, e)).length >= 12, {
    timeoutMs: 20_000,
    what: '12 FAILED transactions',
  });
  const newestBefore = latestSeq(server, 'transactions');
  const feed = track(rawSseFeed(server, 'transactions', { filter, replay: 5 }, { label: 'replay 5 FAILED' }));
  const newestAfter = (await attached(server, 'transactions', 2)) - 1;
  await waitFor(() => feed.events.some((e) => e.seq > newestAfter), { timeoutMs: 20_000, what: 'a live FAILED transaction' });
  await reached(control, feed.events.at(-1)?.seq ?? 0);
  expectFilteredReplayThenLive(control, feed, 5, (e) => matchesTransaction(filter, e), newestBefore, newestAfter);
});
