import { beforeAll, describe, expect, test } from 'vitest';
import { LiveTransactionsDocument } from '../../examples/generated/graphql.ts';
import { expectEverySeqOnce } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { latestSeq } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';
import { appFeed, controlSockets, FLAVOURS, type AppFeed, type SocketControl } from './support.ts';

/**
 * Sockets are cut or closed under the clients while ~400 transaction events a
 * second flow (SIM_TPS=200: a PENDING and an outcome per transaction). The
 * server keeps its history, so every resumption must be exact: the
 * application sees every seq once, in order, with no REPLAY_GAP.
 */
const ENV = { SIM_TPS: '200', SIM_BLOCK_TIME_MS: '200' };

const server = useTestServer(ENV);
let sockets: SocketControl;
beforeAll(() => {
  sockets = controlSockets(server);
});

const DISRUPTIONS: { name: string; apply(): number; reason: RegExp }[] = [
  { name: 'network drop (TCP reset, 1006)', apply: () => sockets.drop(), reason: /closed 1006/ },
  { name: 'server drain (1001)', apply: () => sockets.closeWith(1001, 'Going away'), reason: /closed 1001 Going away/ },
  {
    name: 'slow consumer (4008)',
    apply: () => sockets.closeWith(4008, 'slow consumer; resubscribe with after: <last cursor>'),
    reason: /closed 4008 slow consumer/,
  },
  { name: 'token expired (4440)', apply: () => sockets.closeWith(4440, 'token expired'), reason: /closed 4440 token expired/ },
  {
    name: 'try again later (1013)',
    apply: () => sockets.closeWith(1013, 'rate limited: too many messages; retry later'),
    reason: /closed 1013 rate limited/,
  },
];

describe('resumable client: dropped sockets while events flow', () => {
  test('bare kit, Apollo Client 4 and urql each see every transaction exactly once across five kinds of drop', async () => {
    const feeds: AppFeed[] = FLAVOURS.map((flavour) => appFeed(flavour, server, LiveTransactionsDocument, 'transactions'));
    await waitFor(() => feeds.every((f) => f.seqs.length >= 100), { what: 'every client to get 100 events', timeoutMs: 15_000 });

    for (const disruption of DISRUPTIONS) {
      // The sockets the previous disruption closed are gone; one live socket per client.
      await waitFor(() => sockets.open === feeds.length, { what: 'one socket per client' });
      const counts = feeds.map((f) => f.seqs.length);
      const retries = feeds.map((f) => f.retries.length);
      const newest = latestSeq(server, 'transactions');
      expect(disruption.apply(), `${disruption.name}: sockets affected`).toBe(feeds.length);
      // Each client noticed, backed off, resubscribed after its cursor and caught up with live events.
      await waitFor(() => feeds.every((f, i) => f.retries.length > (retries[i] as number)), {
        what: `${disruption.name}: every client to retry`,
      });
      await waitFor(() => feeds.every((f, i) => f.seqs.length >= (counts[i] as number) + 100 && (f.seqs.at(-1) as number) > newest + 50), {
        what: `${disruption.name}: every client to go on past seq ${newest + 50}`,
        timeoutMs: 15_000,
      });
      for (const [i, feed] of feeds.entries()) {
        const retry = feed.retries[retries[i] as number];
        expect(retry?.reason, `${feed.label}: ${disruption.name}`).toMatch(disruption.reason);
        expect(retry?.after, `${feed.label} resumes after a cursor`).toEqual(expect.any(String));
        expect(retry?.delayMs).toBeGreaterThanOrEqual(25);
        expect(retry?.delayMs).toBeLessThanOrEqual(50);
      }
    }
    await Promise.all(feeds.map((f) => f.stop()));

    for (const feed of feeds) {
      expect(feed.errors, `${feed.label}: errors`).toEqual([]);
      expect(feed.gaps, `${feed.label}: no REPLAY_GAP while the server kept its history`).toEqual([]);
      expect(
        feed.retries.map((r) => r.attempt),
        `${feed.label}: one retry per drop, each the first attempt`,
      ).toEqual(DISRUPTIONS.map(() => 1));
      expectEverySeqOnce(feed.seqs, feed.label);
      expect(feed.seqs.length).toBeGreaterThan(500);
    }
    // All three saw the same events over the window they all covered.
    const lo = Math.max(...feeds.map((f) => f.seqs[0] as number));
    const hi = Math.min(...feeds.map((f) => f.seqs.at(-1) as number));
    const windows = feeds.map((f) => f.seqs.filter((s) => s >= lo && s <= hi));
    expect(windows[1]).toEqual(windows[0]);
    expect(windows[2]).toEqual(windows[0]);
  }, 90_000);

  test('a drop while the client is mid-backlog still resumes exactly (two drops in a row)', async () => {
    const feed = appFeed('kit', server, LiveTransactionsDocument, 'transactions', {
      kit: { backoff: { initialMs: 300, maxMs: 300, jitter: 0 } },
    });
    await waitFor(() => feed.seqs.length >= 50 && sockets.open === 1, { what: 'events and a socket' });
    sockets.drop();
    // 300 ms away at ~400 events/s: the resumption starts with a backlog of ~120 events; cut it again right away.
    await waitFor(() => feed.retries.length === 1 && sockets.open === 1, { what: 'the first resubscription' });
    await waitFor(() => feed.seqs.length > 0, { what: 'events' });
    sockets.drop();
    await waitFor(() => feed.retries.length === 2, { what: 'the second retry' });
    const newest = latestSeq(server, 'transactions');
    await waitFor(() => (feed.seqs.at(-1) as number) > newest + 50, { what: 'live events after the second resume', timeoutMs: 15_000 });
    await feed.stop();
    expect(feed.errors).toEqual([]);
    expect(feed.gaps).toEqual([]);
    expectEverySeqOnce(feed.seqs, feed.label);
  }, 60_000);
});
