import { beforeAll, describe, expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import type { StreamName } from '../helpers/contract.ts';
import { expectGapThenContiguous, flowedPast, reached, RESUME_TRANSPORTS } from '../helpers/resume-checks.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { UpgradeRefused } from '../helpers/sockets.ts';
import { clientFeed, latestSeq, query, type Feed, type Item } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A cursor the server cannot resume from without loss is never a silent gap:
 * one REPLAY_GAP error (with oldestCursor) comes first, then events with no
 * hole among them. Expired cursors (REPLAY_BUFFER_SIZE=50 at SIM_TPS=200, so a
 * cursor falls out within a fraction of a second; and REPLAY_TTL_MS) and
 * cursors from another server instance (another epoch), on graphql-ws, SSE
 * (Last-Event-ID) and legacy (?since=).
 */

let foreignCursor: string;
const small = useTestServer({ SIM_TPS: '200', REPLAY_BUFFER_SIZE: '50' });
const foreign = useTestServer();

beforeAll(async () => {
  // A perfectly good cursor — of another server's history.
  const data = await waitFor(
    async () =>
      (await query<{ recentTransactions: Item[] }>(foreign, '{ recentTransactions(limit: 5) { seq cursor } }')).recentTransactions.at(-1),
    { what: 'a transaction on the other server' },
  );
  foreignCursor = data.cursor;
});

/** A control that sees every event of the server from now on, to take cursors from. */
const control = (server: TestServer): Feed => clientFeed(graphqlWsClient(server), 'transactions', {}, 'control');

describe.each(RESUME_TRANSPORTS)('$name', (transport) => {
  const resume = (server: TestServer, cursor: string, stream: StreamName = 'transactions') =>
    transport.resume(server, cursor, {}, `${transport.name} resumed`, stream);

  test('an expired cursor (older than REPLAY_BUFFER_SIZE) → REPLAY_GAP with oldestCursor, then what is retained and live', async () => {
    const server = small;
    const witness = control(server);
    await waitFor(() => witness.events.length >= 5, { what: 'a cursor' });
    const old = witness.events[0] as Item;
    // 50 events are retained; 200 later, the cursor's successors are long gone.
    await flowedPast(server, 'transactions', old.seq, 200);
    const feed = await resume(server, old.cursor);
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
    const server = small;
    const newest = latestSeq(server, 'transactions');
    const feed = await resume(server, foreignCursor);
    await waitFor(() => feed.events.length >= 50, { what: `${feed.label}: events after the gap` });
    const { events } = expectGapThenContiguous(feed);
    expect(events.at(-1)?.seq, 'live events follow').toBeGreaterThan(newest);
  });

  test('a cursor of another stream → REPLAY_GAP, not a resume at some unrelated position', async () => {
    const server = small;
    const witness = control(server);
    await waitFor(() => witness.events.length >= 1, { what: 'a transactions cursor' });
    await waitFor(() => server.app.streams.hubs.validators.latest(), { what: 'a validators event' });
    const feed = await resume(server, (witness.events[0] as Item).cursor, 'validators');
    await waitFor(() => feed.errors.length > 0 || feed.events.length > 0, { timeoutMs: 15_000, what: `${feed.label}: a first result` });
    expect(feed.entries[0] && 'error' in feed.entries[0] ? feed.entries[0].error.extensions['code'] : 'an event came first').toBe(
      'REPLAY_GAP',
    );
  });

  test('something that is not a cursor is never silently accepted', async () => {
    const server = small;
    const feed = await resume(server, 'bm90LWEtY3Vyc29y').catch((error: unknown) => error);
    if (feed instanceof UpgradeRefused) {
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
    const data = await query<{ recentTransactions: Item[] }>(small, '{ recentTransactions(limit: 1) { cursor } }');
    const gap = clientFeed(client, 'transactions', { after: data.recentTransactions[0]?.cursor }, 'gap');
    await waitFor(() => gap.errors.length > 0, { what: 'the REPLAY_GAP' });
    const oldestCursor = String(gap.errors[0]?.extensions['oldestCursor']);
    const all = clientFeed(client, 'transactions', { replay: 10_000 }, 'everything retained');
    const resumed = clientFeed(client, 'transactions', { after: oldestCursor }, 'after oldestCursor');
    await waitFor(() => all.events.length > 0 && resumed.events.length > 0, { what: 'both feeds' });
    expect(resumed.errors).toEqual([]);
    expect(resumed.events[0]?.seq, 'the oldest retained event').toBe(all.events[0]?.seq);
  });
});

describe('REPLAY_TTL_MS', () => {
  const server = useTestServer({ REPLAY_TTL_MS: '1500' });

  test.each(RESUME_TRANSPORTS)('$name: a cursor older than the TTL → REPLAY_GAP, then events', async (transport) => {
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
    const feed = await transport.resume(server, old.cursor, {}, `${transport.name} resumed`);
    await waitFor(() => feed.events.length >= 5, { what: `${feed.label}: events after the gap` });
    expectGapThenContiguous(feed);
  });
});
