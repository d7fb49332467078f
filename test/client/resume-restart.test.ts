import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createResumableClient, type RetryInfo } from 'aurigraph-realtime/client';
import {
  LiveMetricsDocument,
  LiveTransactionsDocument,
  PeerChurnDocument,
  ValidatorChangesDocument,
} from '../../examples/generated/graphql.ts';
import { print } from 'graphql';
import { track } from '../helpers/track.ts';
import { expectEverySeqOnce } from '../helpers/sequences.ts';
import { startTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { appFeed, FLAVOURS, restartOnSamePort, type AppFeed } from './support.ts';

/**
 * The server is stopped (drain: `complete`, then 1001) and a new one starts on
 * the same port while events flow. The new server has a new history, so the
 * old cursor cannot be honoured: each client must report it through `onGap`
 * exactly once, then go on with the new server's events — never silently.
 */
const ENV = { SIM_TPS: '200', SIM_BLOCK_TIME_MS: '200' };

describe('resumable client: server restart on the same port', () => {
  test('bare kit, Apollo and urql reconnect by themselves, report the REPLAY_GAP once and stream on', async () => {
    const server = await startTestServer(ENV);
    const feeds: AppFeed[] = FLAVOURS.map((flavour) => appFeed(flavour, server, LiveTransactionsDocument, 'transactions'));
    await waitFor(() => feeds.every((f) => f.seqs.length >= 100), { what: 'events before the restart', timeoutMs: 15_000 });

    // Down until every client has failed to reconnect at least once (connection refused), then back.
    const restarted = await restartOnSamePort(server, ENV, {
      whileDown: () => waitFor(() => feeds.every((f) => f.retries.length >= 2), { what: 'reconnects refused while down' }),
    });
    expect(restarted.port).toBe(server.port);

    await waitFor(() => feeds.every((f) => f.gaps.length === 1 && f.seqs.length >= (f.gapAt[0] as number) + 100), {
      what: 'every client to report the gap and get 100 events from the new server',
      timeoutMs: 20_000,
    });
    await Promise.all(feeds.map((f) => f.stop()));

    for (const feed of feeds) {
      expect(feed.errors, `${feed.label}: errors`).toEqual([]);
      expect(feed.gaps, `${feed.label}: one gap`).toHaveLength(1);
      const [gap] = feed.gaps;
      expect(gap?.error.extensions?.['code']).toBe('REPLAY_GAP');
      expect(gap?.after, 'the cursor it tried to resume from').toEqual(expect.any(String));
      expect(gap?.oldestCursor).toEqual(expect.any(String));
      expect(gap?.oldestCursor).not.toBe(gap?.after);
      // The drain is seen: the server completed the subscription (or closed 1001) before the port went away.
      expect(feed.retries[0]?.reason, `${feed.label}: first retry`).toMatch(/completed by the server|closed 1001/);
      // While the port was closed the kit kept trying, backing off.
      expect(feed.retries[1]?.reason, `${feed.label}: second retry`).toMatch(/ECONNREFUSED/);
      expect(feed.retries[1]?.attempt).toBe(2);

      const at = feed.gapAt[0] as number;
      const before = feed.seqs.slice(0, at);
      const after = feed.seqs.slice(at);
      for (const [label, part] of [
        ['before the restart', before],
        ['after the restart', after],
      ] as const) {
        expectEverySeqOnce(part, `${feed.label} ${label}`);
      }
      expect(before.length).toBeGreaterThanOrEqual(100);
      expect(after.length).toBeGreaterThanOrEqual(100);
    }
  }, 90_000);

  test('five subscriptions on one kit share one socket, and one connection attempt per retry round while the server is down', async () => {
    const server = await startTestServer(ENV);
    const sockets: WebSocket[] = [];
    class CountedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    const retries: RetryInfo[] = [];
    const kit = track(
      createResumableClient({
        url: server.ws('/graphql'),
        webSocketImpl: CountedWebSocket,
        backoff: { initialMs: 50, maxMs: 400 },
        onGap: () => {},
        onRetry: (info) => retries.push(info),
      }),
    );
    const received = new Map<string, number>();
    const documents = { LiveMetricsDocument, LiveTransactionsDocument, PeerChurnDocument, ValidatorChangesDocument };
    const names = [...Object.keys(documents), 'FailedTransactions'];
    for (const [name, document] of Object.entries(documents)) {
      kit.resumable(
        { query: print(document) },
        { next: () => received.set(name, (received.get(name) ?? 0) + 1), error: () => {}, complete: () => {} },
      );
    }
    kit.resumable(
      { query: 'subscription FailedTransactions { transactions(filter: { status: [FAILED] }) { seq } }' },
      {
        next: () => received.set('FailedTransactions', (received.get('FailedTransactions') ?? 0) + 1),
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor(() => ['LiveMetricsDocument', 'LiveTransactionsDocument'].every((name) => (received.get(name) ?? 0) > 0), {
      what: 'results',
    });
    expect(sockets).toHaveLength(1);

    let socketsWhileDown = 0;
    let retriesWhileDown = 0;
    const restarted = await restartOnSamePort(server, ENV, {
      whileDown: async () => {
        const [socketsBefore, retriesBefore] = [sockets.length, retries.length];
        // Several rounds of refused connections.
        await waitFor(() => retries.filter((r) => /ECONNREFUSED/.test(r.reason)).length >= 5 * 4, { what: 'four refused rounds' });
        socketsWhileDown = sockets.length - socketsBefore;
        retriesWhileDown = retries.length - retriesBefore;
      },
    });
    expect(restarted.port).toBe(server.port);
    // Each round: five subscriptions retry, one socket is tried.
    expect(retriesWhileDown).toBeGreaterThanOrEqual(20);
    expect(socketsWhileDown).toBeLessThanOrEqual(Math.ceil(retriesWhileDown / names.length) + 1);

    const counts = new Map(received);
    await waitFor(
      () => ['LiveMetricsDocument', 'LiveTransactionsDocument'].every((name) => (received.get(name) ?? 0) > (counts.get(name) ?? 0)),
      {
        what: 'results from the new server',
        timeoutMs: 15_000,
      },
    );
    expect(sockets.filter((socket) => socket.readyState === WebSocket.OPEN)).toHaveLength(1);
    expect(restarted.app.engine.subscriberCount(undefined, 'graphql-ws')).toBe(names.length);
  }, 60_000);
});
