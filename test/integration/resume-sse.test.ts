import { expect, test } from 'vitest';
import { graphqlSseClient } from '../helpers/clients.ts';
import { expectLosslessResume, flowedPast, reached, SSE_RESUME, testResumeScenarios } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';
import { clientFeed, rawSseFeed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * SSE on /graphql: every event carries `id: <cursor>`; a client that loses the
 * connection reconnects with `Last-Event-ID` (what a browser's EventSource
 * does by itself) and resumes exactly after it, while the chain keeps
 * producing at SIM_TPS=200. Also `after` and `replay` as arguments.
 */

const server = useTestServer({ SIM_TPS: '200' });

testResumeScenarios(server, SSE_RESUME);

test('every SSE event has id: <cursor>, the same cursor as the field and extensions.cursor', async () => {
  const feed = rawSseFeed(server, 'transactions');
  await waitFor(() => feed.events.length >= 20, { what: '20 SSE events' });
  feed.stop();
  expect(feed.status).toBe(200);
  for (const event of feed.events) {
    expect(event['sseId'], `seq ${event.seq}`).toBe(event.cursor);
    expect(event['extensionCursor'], `seq ${event.seq}`).toBe(event.cursor);
  }
  // So Last-Event-ID, what a browser sends back, is the last event's cursor.
  expect(feed.lastEventId()).toBe(feed.lastCursor());
});

test('the after argument resumes over SSE too (graphql-sse client)', async () => {
  const client = graphqlSseClient(server);
  const before = clientFeed(client, 'transactions', {}, 'graphql-sse before');
  await waitFor(() => before.events.length >= 100, { what: '100 events' });
  before.stop();
  const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 100);
  const after = clientFeed(client, 'transactions', { after: before.lastCursor() }, 'graphql-sse resumed');
  await reached(after, newestBeforeReconnect + 200);
  expectLosslessResume(before, after, { newestBeforeReconnect });
});
