import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import { expectGapThenContiguous, flowedPast, reached } from '../helpers/resume-checks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  clientFeed,
  latestSeq,
  legacyFeed,
  query,
  rawSseFeed,
  stopAll,
  type Feed,
  type Item,
} from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A cursor the server cannot resume from without loss is never a silent gap:
 * one REPLAY_GAP error (with oldestCursor) comes first, then events with no
 * hole among them. Expired cursors (REPLAY_BUFFER_SIZE=50 at SIM_TPS=200, so a
 * cursor falls out within a fraction of a second; and REPLAY_TTL_MS) and
 * cursors from another server instance (another epoch), on graphql-ws, SSE
 * (Last-Event-ID) and legacy (?since=).
 */

const TRANSPORTS = ['graphql-ws', 'sse', 'legacy'] as const;
type Transport = (typeof TRANSPORTS)[number];

let small: TestServer;
let foreign: TestServer;
let foreignCursor: string;
const feeds: Feed[] = [];
const clients: { dispose(): unknown }[] = [];

beforeAll(async () => {
  const env = { SIM_TPS: '200', REPLAY_BUFFER_SIZE: '50' };
  [small, foreign] = await Promise.all([startTestServer(env), startTestServer()]);
  // A perfectly good cursor — of another server's history.
  const data = await waitFor(
    async () => (await query<{ recentTransactions: Item[] }>(foreign, '{ recentTransactions(limit: 5) { seq cursor } }')).recentTransactions.at(-1),
    { what: 'a transaction on the other server' },
  );
  foreignCursor = data.cursor;
});
afterAll(async () => {
  await Promise.all([small?.stop(), foreign?.stop()]);
});
afterEach(async () => {
  stopAll(feeds.splice(0));
  for (const client of clients.splice(0)) await client.dispose();
});

const serverFor = (_transport: Transport) => small;

/** Resumes from `cursor` over the transport, as its clients do. */
async function resume(transport: Transport, server: TestServer, cursor: string, stream: 'transactions' | 'validators' = 'transactions'): Promise<Feed> {
  let feed: Feed;
  if (transport === 'graphql-ws') {
    const client = graphqlWsClient(server);
    clients.push(client);
    feed = clientFeed(client, stream, { after: cursor }, `${transport} after`);
  } else if (transport === 'sse') {
    feed = rawSseFeed(server, stream, {}, { lastEventId: cursor, label: 'sse Last-Event-ID' });
  } else {
    feed = await legacyFeed(server, `/ws/${stream}?since=${encodeURIComponent(cursor)}&meta=1`, 'legacy since');
  }
  feeds.push(feed);
  return feed;
}

/** A control that sees every event of the small-buffer server from now on, to take cursors from. */
function control(server: TestServer): Feed {
  const client = graphqlWsClient(server);
  clients.push(client);
  const feed = clientFeed(client, 'transactions', {}, 'control');
  feeds.push(feed);
  return feed;
}

describe.each(TRANSPORTS)('%s', (transport) => {
  test('an expired cursor (older than REPLAY_BUFFER_SIZE) → REPLAY_GAP with oldestCursor, then what is retained and live', async () => {
    const server = serverFor(transport);
    const witness = control(server);
    await waitFor(() => witness.events.length >= 5, { what: 'a cursor' });
    const old = witness.events[0] as Item;
    // 50 events are retained; 200 later, the cursor's successors are long gone.
    await flowedPast(server, 'transactions', old.seq, 200);
    const feed = await resume(transport, server, old.cursor);
    await waitFor(() => feed.events.length >= 100, { what: `${feed.label}: events after the gap` });
    const { oldestCursor, events } = expectGapThenContiguous(feed);
    const first = events[0] as Item;
    expect(first.seq, 'events after the cursor were really lost').toBeGreaterThan(old.seq + 1);
    // oldestCursor is where a lossless resume is still possible: right before the first event that came.
    await reached(witness, first.seq);
    const before = witness.events.find((e) => e.seq === first.seq - 1);
    expect(oldestCursor, `oldestCursor is the cursor of seq ${first.seq - 1}`).toBe(before?.cursor);
  });

  test('a cursor from another server instance (another epoch) → REPLAY_GAP with oldestCursor, then live', async () => {
    const server = serverFor(transport);
    const newest = latestSeq(server, 'transactions');
    const feed = await resume(transport, server, foreignCursor);
    await waitFor(() => feed.events.length >= 50, { what: `${feed.label}: events after the gap` });
    const { events } = expectGapThenContiguous(feed);
    expect(events.at(-1)?.seq, 'live events follow').toBeGreaterThan(newest);
  });

  test("a cursor of another stream → REPLAY_GAP, not a resume at some unrelated position", async () => {
    const server = serverFor(transport);
    const witness = control(server);
    await waitFor(() => witness.events.length >= 1, { what: 'a transactions cursor' });
    await waitFor(() => server.app.streams.hubs.validators.latest(), { what: 'a validators event' });
    const feed = await resume(transport, server, (witness.events[0] as Item).cursor, 'validators');
    await waitFor(() => feed.errors.length > 0 || feed.events.length > 0, { timeoutMs: 15_000, what: `${feed.label}: a first result` });
    expect(feed.entries[0] && 'error' in feed.entries[0] ? feed.entries[0].error.extensions['code'] : 'an event came first').toBe('REPLAY_GAP');
  });

  test('something that is not a cursor is never silently accepted', async () => {
    const server = serverFor(transport);
    const feed = await resume(transport, server, 'bm90LWEtY3Vyc29y').catch((error: { status?: number }) => error);
    if ('status' in feed && feed.status !== undefined) {
      expect(feed.status).toBe(400); // refused before the handshake is fine too
      return;
    }
    const f = feed as Feed;
    await waitFor(() => f.errors.length > 0 || f.events.length > 0, { what: `${f.label}: a first result` });
    const first = f.entries[0];
    expect(first && 'error' in first ? first.error.extensions['code'] : 'an event came first').toMatch(/^(REPLAY_GAP|BAD_REQUEST)$/);
  });
});

describe('oldestCursor', () => {
  test('resuming after oldestCursor replays the oldest retained event on, without a gap', async () => {
    // The other server keeps its whole history (10,000 events), so oldestCursor stays valid for a while.
    const client = graphqlWsClient(foreign);
    clients.push(client);
    const data = await query<{ recentTransactions: Item[] }>(small, '{ recentTransactions(limit: 1) { cursor } }');
    const gap = clientFeed(client, 'transactions', { after: data.recentTransactions[0]?.cursor }, 'gap');
    feeds.push(gap);
    await waitFor(() => gap.errors.length > 0, { what: 'the REPLAY_GAP' });
    const oldestCursor = String(gap.errors[0]?.extensions['oldestCursor']);
    const all = clientFeed(client, 'transactions', { replay: 10_000 }, 'everything retained');
    const resumed = clientFeed(client, 'transactions', { after: oldestCursor }, 'after oldestCursor');
    feeds.push(all, resumed);
    await waitFor(() => all.events.length > 0 && resumed.events.length > 0, { what: 'both feeds' });
    expect(resumed.errors).toEqual([]);
    expect(resumed.events[0]?.seq, 'the oldest retained event').toBe(all.events[0]?.seq);
  });
});

describe('REPLAY_TTL_MS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ REPLAY_TTL_MS: '1500' });
  });
  afterAll(() => server?.stop());

  test.each(['graphql-ws', 'sse', 'legacy'] as const)('%s: a cursor older than the TTL → REPLAY_GAP, then events', async (transport) => {
    const witness = control(server);
    await waitFor(() => witness.events.length >= 1, { what: 'a cursor' });
    const old = witness.events[0] as Item;
    // Wait on the fact, not the clock: the event after the cursor is no longer retained.
    await waitFor(
      async () => {
        const data = await query<{ recentTransactions: Item[] }>(server, '{ recentTransactions(limit: 1000) { seq } }');
        return data.recentTransactions.every((e) => e.seq > old.seq + 1);
      },
      { what: `seq ${old.seq + 1} to expire` },
    );
    const feed = await resume(transport, server, old.cursor);
    await waitFor(() => feed.events.length >= 5, { what: `${feed.label}: events after the gap` });
    expectGapThenContiguous(feed);
  });
});
